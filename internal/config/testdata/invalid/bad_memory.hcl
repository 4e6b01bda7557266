# want: 5:14: Invalid memory: "512m" is not a size; expected a number with a unit, like "512KiB", "64MiB" or "1GiB".
service "web" {
  container {
    image  = "registry.example/web:1.0"
    memory = "512m"
    port   = 8080
  }
}
