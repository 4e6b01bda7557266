# want: 6:3: Invalid container: a service runs as a process or as a container, not both
service "web" {
  process {
    command = ["./web"]
  }
  container {
    image = "registry.example/web:1.0"
    port  = 8080
  }
}
