# Errors about sensitive values say what is wrong without showing them.
variable "secret" {
  sensitive = true
  default   = "hunter2"
}
load_balancer "public" {}
service "web" {
  desired_count = var.secret
  version       = tonumber(var.secret)
  process {
    command = ["./web"]
    env     = { A = { nested = var.secret } }
  }
  route {
    path = "/${var.secret}"
  }
  health_check {
    interval = var.secret
  }
  deploy {
    strategy = var.secret
  }
}
# want: 8:19: Invalid desired_count: Expected a whole number; got a sensitive string.
# want: 9:28: Invalid function argument: The expression uses a sensitive value, so the details of this error are not shown.
# want: 12:15: Invalid env: Expected a map of strings; the value of "A" is a map.
# want: 18:16: Invalid interval: (sensitive value) is not a duration
# want: 21:16: Invalid strategy: The sensitive value given is not one of ["blue_green" "canary" "rolling"].
