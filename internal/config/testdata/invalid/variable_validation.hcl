variable "port" {
  type    = number
  default = 70000
  validation {
    condition     = var.port > 0 && var.port < 65536
    error_message = "The port must be between 1 and 65535."
  }
  validation {
    condition     = var.port != 8080
    error_message = "8080 is the demo's."
  }
}
# want: 3:13: Invalid value for variable: The port must be between 1 and 65535. This was checked by the validation rule at
variable "environment" {
  default = "stage"
  validation {
    condition     = contains(["qa", "prod"], var.environment)
    error_message = "environment must be \"qa\" or \"prod\", not \"${var.environment}\"."
  }
}
# want: 15:13: Invalid value for variable: environment must be "qa" or "prod", not "stage".
variable "bad_rule" {
  default = "x"
  validation {
    condition     = var.bad_rule
    error_message = "never shown"
  }
}
# want: 25:21: Invalid validation condition: Expected true or false; got the string "x".
