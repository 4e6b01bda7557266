variable "app" {
  sensitive = true
  default   = "web"
}
service "web" {
  name = "${var.app}-1"
  process {
    command = ["./web"]
  }
}
# want: 6:10: Invalid name: A name is shown everywhere, so it cannot come from a sensitive value.
