# One web application behind one of the configuration's load balancers.

locals {
  rolling = var.deploy_strategy == "rolling"
}

service "app" {
  name          = var.app_name
  version       = var.application_version
  desired_count = var.desired_count

  process {
    command = var.command
    dir     = coalesce(var.working_dir, path.root)
    env     = merge(var.env, var.secrets, { APP_NAME = var.app_name })
  }

  route {
    load_balancer = var.attach_to_load_balancer
    path          = var.lb_pattern
    priority      = var.lb_rule_number
  }

  health_check {
    path         = var.health_check_path
    interval     = "1s"
    grace_period = var.health_check_period
  }

  deploy {
    strategy      = var.deploy_strategy
    batch_size    = local.rolling ? var.rolling_batch_size : null
    keep_previous = local.rolling ? null : var.keep_previous
    drain_timeout = "10s"
  }
}
