output "service" {
  value       = var.app_name
  description = "The service's name, for teal status and teal history."
}

output "route" {
  value       = "${var.attach_to_load_balancer} ${var.lb_pattern}"
  description = "Which load balancer routes which paths to the app."
}
