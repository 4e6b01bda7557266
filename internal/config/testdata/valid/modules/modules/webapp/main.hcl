service "app" {
  name          = var.app_name
  version       = var.app_version
  desired_count = var.desired_count

  process {
    command = concat([var.binary, "-name", title(var.app_name)], var.args)
    env     = merge(var.env, { APP = var.app_name })
  }

  route {
    load_balancer = var.load_balancer
    path          = var.path
    priority      = var.priority
  }

  deploy {
    before_switch = ["./migrate.sh", var.app_name]
  }
}

module "metrics" {
  source = "../exporter"
  app    = var.app_name
}
