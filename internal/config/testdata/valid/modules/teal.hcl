# Two instances of one module, a module output passed to another, locals in
# any order, functions, and sensitive values followed into the services.
variable "environment" {
  default = "qa"
}

variable "db_password" {
  type      = string
  sensitive = true
  default   = "s3cret"
}

locals {
  env      = merge(local.base_env, { DB_PASSWORD = var.db_password })
  base_env = { ENVIRONMENT = upper(var.environment) }
}

load_balancer "public" {}

load_balancer "internal" {
  name   = "private"
  listen = "127.0.0.1:8081"
}

module "reporting" {
  source      = "./modules/webapp"
  app_name    = "reporting"
  app_version = "1.2.0"
  binary      = "${path.module}/bin/reporting"
  env         = local.env
  path        = "/reporting*"
  priority    = 10
}

module "billing" {
  source        = "./modules/webapp"
  app_name      = "billing"
  app_version   = module.reporting.version
  binary        = "billing-server"
  args          = ["-token", sensitive("t0ken")]
  desired_count = 3
  load_balancer = "private"
  path          = "/billing*"
}

output "routes" {
  value       = [module.reporting.route, module.billing.route]
  description = "Where each app is reached."
}

output "password_length" {
  value     = length(var.db_password)
  sensitive = true
}
