variable "app_name" {}

variable "port" {
  default = 8080
  validation {
    condition     = var.port >= 1024
    error_message = "Use a port from 1024 up."
  }
}

service "app" {
  name = var.app_name
  process {
    command = ["./app", "-port", var.port]
  }
  route {
    load_balancer = "pubilc"
    path          = "/${var.app_name}*"
  }
}
# want: 12:10: Duplicate service name: The name "reporting" is already taken by the service declared at testdata/invalid/module_names/modules/app/main.hcl:11,1-14 in module.qa; give one of them another with name = "…". (in module.prod)
# want: 17:21: Unknown load balancer: No load_balancer block named "pubilc" is declared. Did you mean "public"? (in module.qa)

# Without a name, a service in a module is named "<module>-<label>".
service "worker" {
  process {
    command = ["./worker"]
  }
}
# want: 25:9: Duplicate service name: The name "qa-worker" is already taken by the service declared at testdata/invalid/module_names/teal.hcl:15,1-14; give one of them another with name = "…". (in module.qa)
