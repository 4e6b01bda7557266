# want: 4:13: Invalid image: "registry.example/Web:1.0" is not an image reference: invalid reference format: repository name (Web) must be lowercase.
service "web" {
  container {
    image = "registry.example/Web:1.0"
    port  = 8080
  }
}
