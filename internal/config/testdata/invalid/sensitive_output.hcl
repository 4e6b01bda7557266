variable "db_password" {
  sensitive = true
  default   = "hunter2"
}
output "dsn" {
  value = "postgres://app:${var.db_password}@localhost/app"
}
# want: 6:11: Output refers to sensitive values: Output "dsn" is computed from a sensitive value; add sensitive = true to its block so that it is never shown.
output "password" {
  value     = var.db_password
  sensitive = true
}
