# want: 6:14: Invalid memory: must be at least 6MiB (the engine refuses less), got 1MiB.
service "web" {
  container {
    image  = "registry.example/web:1.0"
    port   = 8080
    memory = "1MiB"
  }
}
