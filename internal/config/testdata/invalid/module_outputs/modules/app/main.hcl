locals {
  host = "127.0.0.1"
}

output "url" {
  value = "http://${local.host}:${local.port}"
}
# want: 6:35: Reference to undeclared local value: No local value named "port" is declared. Did you mean "host"? (in module.app)

output "port" {
  value = var.port
}

variable "port" {
  type    = number
  default = 8080
  validation {
    condition     = var.port >= 1024
    error_message = "Use a port from 1024 up."
  }
}
