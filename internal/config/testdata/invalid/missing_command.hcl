# want: 3:3: Invalid command: must name a program to run, like ["./bin/web", "-flag"].
service "web" {
  process {
    env = {}
  }
}
