# want: 3:19: Invalid desired_count: Expected a whole number of at least 1; got 0.
service "web" {
  desired_count = 0
  process {
    command = ["./web"]
  }
}
