# want: 6:15: Invalid volumes: the target "data" must be an absolute path in the container, in
service "web" {
  container {
    image   = "registry.example/web:1.0"
    port    = 8080
    volumes = ["./data:data"]
  }
}
