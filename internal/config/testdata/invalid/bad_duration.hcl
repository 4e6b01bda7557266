# want: 7:15: Invalid timeout: "soon" is not a duration; expected a number with a unit
service "web" {
  process {
    command = ["./web"]
  }
  health_check {
    timeout = "soon"
  }
}
