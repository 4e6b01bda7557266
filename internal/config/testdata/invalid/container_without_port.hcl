# want: 3:3: Invalid port: must be the port the container serves HTTP on, from 1 to 65535, got 0.
service "web" {
  container {
    image = "registry.example/web:1.0"
  }
}
