# want: 3:19: Invalid desired_count: Expected a whole number; got the string "two".
service "web" {
  desired_count = "two"
  process {
    command = "./web --port 80"
  }
}
# want: 5:15: Invalid command: Expected a list of strings, like ["./bin/web", "-port", "8080"]; got the string "./web --port 80".
