# want: 3:3: Invalid image: must name an image, like "registry.example/api:1.2.0".
service "web" {
  container {
    port = 8080
  }
}
