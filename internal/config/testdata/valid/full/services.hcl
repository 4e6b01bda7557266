variable "version" {
  default = "1.0.0"
}

variable "count" {
  type    = number
  default = 2
}

variable "environment" {
  default = "dev"
}

service "web" {
  version       = var.version
  desired_count = var.count

  process {
    command = ["./bin/web", "-version", var.version]
    env     = { ENVIRONMENT = var.environment }
    dir     = "run"
  }

  route {
    load_balancer = "public"
    host          = "*.example.com"
    path          = "/*"
    priority      = 10
  }

  route {
    load_balancer = "internal"
  }

  health_check {
    path                = "/health"
    interval            = "500ms"
    timeout             = "1s"
    healthy_threshold   = 3
    unhealthy_threshold = 2
    grace_period        = "5s"
    consecutive_5xx     = 0
  }

  timeouts {
    connect         = "1s"
    response_header = "5m"
  }

  preview {
    cookie = "teal_preview"
    listen = "127.0.0.1:9081"
  }

  sticky {
    max_age = "1h"
  }

  maintenance {
    max_pause = "10s"
  }

  deploy {
    strategy      = "blue_green"
    ready_timeout = "1m"
    drain_timeout = "10s"
    keep_previous = "0s"
  }
}

service "reporting" {
  revision_history_limit = 3
  process {
    command = ["reporting-server"]
  }
  preview {}
  deploy {
    strategy          = "canary"
    auto_promote      = false
    progress_deadline = "15m"
    hook_timeout      = "1m"
    before_switch     = ["./bin/migrate", "up"]
    on_rollback       = ["sh", "-c", "echo rolled back"]
    step {
      weight = 10
      pause  = "30s"
    }
    step {
      weight = 50
    }
    analysis {
      max_error_rate = 0.05
      max_p99        = "300ms"
      min_requests   = 20
    }
  }
}

service "worker" {
  desired_count = 10
  process {
    command = ["worker"]
  }
  deploy {
    strategy        = "rolling"
    max_unavailable = "20%"
    max_surge       = 1
  }
  route {
    load_balancer = "public"
    path          = "/reporting*"
  }
}

service "api" {
  version = var.version

  container {
    image      = "registry.example/api:${var.version}"
    entrypoint = ["/bin/api"]
    command    = ["serve", "--verbose"]
    env        = { ENVIRONMENT = var.environment }
    port       = 8080
    memory     = "512MiB"
    cpus       = 0.5
    volumes    = ["./data:/data", "cache:/var/cache:ro"]
    network    = "backend"
    pull       = "always"
  }

  build {
    context    = "api"
    dockerfile = "deploy/Dockerfile"
    args       = { VERSION = var.version }
  }

  route {
    load_balancer = "internal"
    path          = "/api/*"
  }
}
