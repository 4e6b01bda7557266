variable "app" {
  type = object({
    name = string
    port = optional(number, 8080)
    tags = optional(list(string), [])
  })
  default = { port = 80 }
}
# want: 7:13: Invalid default value for variable: Expected object({name=string,port=number,tags=list(string)}): attribute "name" is required.
variable "ports" {
  type    = list(number)
  default = [80, "http"]
}
# want: 12:13: Invalid default value for variable: Expected list(number): element 1: a number is required.
