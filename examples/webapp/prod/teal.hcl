# Prod: the same module as QA, with more instances, a rolling storefront,
# a longer warm rollback window, and the database password from outside.
#
#   go run ./cmd/teal validate examples/webapp/prod
#   TEAL_VAR_reporting_db_password=… go run ./cmd/teal up examples/webapp/prod   # :8280 and :8281

variable "version" {
  default = "1.0.0"
}

variable "reporting_db_password" {
  type        = string
  sensitive   = true
  default     = ""
  description = "Set it with TEAL_VAR_reporting_db_password; it is never shown. (The demo app needs none.)"
}

locals {
  demo = "${path.module}/../../demo"
  env  = { ENVIRONMENT = "prod" }
}

load_balancer "public" {
  listen = "127.0.0.1:8280"
}

load_balancer "internal" {
  listen = "127.0.0.1:8281"
}

module "storefront" {
  source = "../modules/webapp"

  app_name                = "storefront"
  application_version     = var.version
  command                 = ["go", "run", "./webapp", "-version", var.version]
  working_dir             = local.demo
  desired_count           = 4
  attach_to_load_balancer = "public"
  lb_pattern              = "/*"
  health_check_period     = "20s"
  deploy_strategy         = "rolling"
  rolling_batch_size      = 2
  env                     = local.env
}

module "reporting" {
  source = "../modules/webapp"

  app_name                = "reporting"
  application_version     = var.version
  command                 = ["go", "run", "./webapp", "-version", var.version]
  working_dir             = local.demo
  desired_count           = 2
  attach_to_load_balancer = "internal"
  lb_pattern              = "/reporting*"
  lb_rule_number          = 10
  health_check_period     = "20s"
  keep_previous           = "30m"
  env                     = local.env
  secrets                 = { DB_PASSWORD = var.reporting_db_password }
}

output "routes" {
  value = {
    (module.storefront.service) = module.storefront.route
    (module.reporting.service)  = module.reporting.route
  }
}
