# want: 4:13: Invalid default value for variable: Expected number
variable "count" {
  type    = number
  default = "many"
}
