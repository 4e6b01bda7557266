output "version" {
  value = var.app_version
}

output "route" {
  value = "${var.load_balancer}${var.path}"
}
