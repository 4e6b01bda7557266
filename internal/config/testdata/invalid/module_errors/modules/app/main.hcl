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
    load_balancer = "public"
    path          = "/${var.name}*"
  }
}
# want: 12:19: Invalid desired_count: Expected a whole number of at least 1; got 0. (in module.a)
# want: 17:5: Unsupported argument: An argument named "intervall" is not expected here. Did you mean "interval"? (in module.a, module.b)


# Each use listens on the default address, which the root's load balancer
# has already: spec.Validate's problem, at the block in this file.
load_balancer "admin" {}
# want: 30:1: Invalid listen: 127.0.0.1:8080 is also the address of load balancer "public". (in module.a, module.b)
