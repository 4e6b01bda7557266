variable "app_name" {
  type        = string
  description = "The service's name."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.app_name))
    error_message = "app_name must be lower case letters, digits and dashes."
  }
}

variable "app_version" {
  type = string
}

variable "binary" {
  type = string
}

variable "args" {
  type    = list(string)
  default = []
}

variable "env" {
  type    = map(string)
  default = {}
}

variable "desired_count" {
  type    = number
  default = 1
  validation {
    condition     = var.desired_count >= 1 && var.desired_count <= 10
    error_message = "desired_count must be between 1 and 10."
  }
}

variable "load_balancer" {
  type    = string
  default = "public"
}

variable "path" {
  type = string
}

variable "priority" {
  type    = number
  default = null
}
