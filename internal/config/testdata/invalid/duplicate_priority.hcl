# want: 16:16: Invalid priority: priority 10 on load balancer "public" is already taken by service "web" route 1
load_balancer "public" {}
service "web" {
  process {
    command = ["./web"]
  }
  route {
    priority = 10
  }
}
service "api" {
  process {
    command = ["./api"]
  }
  route {
    priority = 10
    path     = "/api/*"
  }
}
