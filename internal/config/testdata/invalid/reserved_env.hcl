# want: 5:15: Invalid env: PORT is set by teal for each instance and cannot be set here.
service "web" {
  process {
    command = ["./web"]
    env     = { PORT = "80" }
  }
}
