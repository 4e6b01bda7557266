variable "name" {
  type = string
}

variable "count" {
  type    = number
  default = 1
}

service "app" {
  name          = var.name
  desired_count = var.count
  process {
    command = ["./app"]
  }
  health_check {
    intervall = "1s"
  }
  route {
    path = "/${var.name}*"
  }
}
# want: 12:19: Invalid desired_count: Expected a whole number of at least 1; got 0. (in module.a)
# want: 17:5: Unsupported argument: An argument named "intervall" is not expected here. Did you mean "interval"? (in module.a, module.b)
