# The demo: one web service behind teal's load balancer on 127.0.0.1:8080.
#
#   go run ./cmd/teal up examples/demo                                   # v1.0.0, and keeps serving
#   go run ./cmd/teal apply -auto-approve -var version=2.0.0 examples/demo  # blue-green to v2.0.0

variable "version" {
  default = "1.0.0"
}

variable "unhealthy" {
  type    = bool
  default = false
}

load_balancer "public" {
  listen = "127.0.0.1:8080"
}

service "web" {
  version       = var.version
  desired_count = 2

  process {
    # "go run" keeps the demo to one prerequisite: Go. It builds once and
    # caches the binary, so later instances start in well under a second.
    command = ["go", "run", "./webapp", "-version", var.version, "-unhealthy=${var.unhealthy}"]
  }

  route {
    path = "/*"
  }

  health_check {
    path         = "/health"
    interval     = "500ms"
    grace_period = "5s"
  }

  deploy {
    strategy      = "blue_green"
    ready_timeout = "1m"
    drain_timeout = "10s"
    keep_previous = "2m"
  }
}
