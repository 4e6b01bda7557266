# want: 6:13: Invalid pull: "allways" is not one of ["always" "missing" "never"]. Did you mean "always"?
service "web" {
  container {
    image = "registry.example/web:${var.version}"
    port  = 8080
    pull  = "allways"
  }
}
variable "version" {
  default = "1.0"
}
