# Blue-green by DNS: teal answers for the zone example.test itself, and
# web.example.test points at the live slot's own listener: 127.0.0.2:8080
# for blue, 127.0.0.3:8080 for green.
#
#   go run ./cmd/teal up examples/dns                                         # v1.0.0 in blue
#   dig @127.0.0.1 -p 5353 +norecurse web.example.test                       # 127.0.0.2, ttl 5
#   curl --resolve web.example.test:8080:127.0.0.2 http://web.example.test:8080/
#   go run ./cmd/teal apply -auto-approve -var version=2.0.0 examples/dns    # green, then blue lingers
#   go run ./cmd/teal status -addr unix://$PWD/examples/dns/.teal/teal.sock  # traffic per slot

variable "version" {
  default = "1.0.0"
}

dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}

service "web" {
  version       = var.version
  desired_count = 2
  switch        = "dns"

  process {
    command = ["go", "run", "../demo/webapp", "-version", var.version]
  }

  dns {
    name     = "web.example.test"
    ttl      = "5s"
    blue     = "127.0.0.2:8080"
    green    = "127.0.0.3:8080"
    linger   = "5s"
    failover = true
  }

  health_check {
    path         = "/health"
    interval     = "500ms"
    grace_period = "5s"
  }

  deploy {
    ready_timeout = "1m"
    drain_timeout = "10s"
    keep_previous = "2m"
  }
}
