# want: 6:13: Invalid cpus: Expected a number, like 0.5; got the string "half".
service "web" {
  container {
    image = "registry.example/web:1.0"
    port  = 8080
    cpus  = "half"
  }
}
