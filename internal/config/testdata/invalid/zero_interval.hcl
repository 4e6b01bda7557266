# want: 7:16: Invalid interval: must be longer than zero.
service "web" {
  process {
    command = ["./web"]
  }
  health_check {
    interval = "0s"
  }
}
