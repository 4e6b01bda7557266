variable "app_name" {
  type = string
}

variable "desired_count" {
  type    = number
  default = 1
}
