# QA: two applications from the web-app module, one instance each.
#
#   go run ./cmd/teal validate examples/webapp/qa
#   go run ./cmd/teal up examples/webapp/qa     # public on :8180, internal on :8181

variable "version" {
  default = "1.0.0"
}

locals {
  # The demo's web app stands in for both applications. path.module is
  # this directory, so the path means the same inside the module.
  demo = "${path.module}/../../demo"
}

load_balancer "public" {
  listen = "127.0.0.1:8180"
}

load_balancer "internal" {
  listen = "127.0.0.1:8181"
}

module "storefront" {
  source = "../modules/webapp"

  app_name                = "storefront"
  application_version     = var.version
  command                 = ["go", "run", "./webapp", "-version", var.version]
  working_dir             = local.demo
  desired_count           = 1
  attach_to_load_balancer = "public"
  lb_pattern              = "/*"
  health_check_period     = "10s"
  env                     = { ENVIRONMENT = "qa" }
}

module "reporting" {
  source = "../modules/webapp"

  app_name                = "reporting"
  application_version     = var.version
  command                 = ["go", "run", "./webapp", "-version", var.version]
  working_dir             = local.demo
  desired_count           = 1
  attach_to_load_balancer = "internal"
  lb_pattern              = "/reporting*"
  lb_rule_number          = 10
  health_check_period     = "10s"
  env                     = { ENVIRONMENT = "qa" }
  secrets                 = { DB_PASSWORD = "qa-not-a-secret" }
}

output "routes" {
  value = {
    (module.storefront.service) = module.storefront.route
    (module.reporting.service)  = module.reporting.route
  }
}
