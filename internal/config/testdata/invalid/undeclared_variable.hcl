# want: 6:13: Reference to undeclared variable: No variable named "verison" is declared. Did you mean "version"?
variable "version" {
  default = "1.0"
}
service "web" {
  version = var.verison
  process {
    command = ["./web"]
  }
}
