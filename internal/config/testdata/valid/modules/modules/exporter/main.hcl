variable "app" {
  type = string
}

# Named "<module>-<module>-admin" and "<module>-<module>-exporter": reporting-metrics-admin.
load_balancer "admin" {
  listen = var.app == "reporting" ? "127.0.0.1:9100" : "127.0.0.1:9101"
}

service "exporter" {
  process {
    command = ["./exporter", "-app", var.app]
    dir     = "data"
  }
  route {
    load_balancer = "admin"
  }
}
