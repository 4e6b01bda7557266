service "app" {
  name          = var.app_name
  desired_count = var.desired_count
  process {
    command = ["./app"]
  }
}
