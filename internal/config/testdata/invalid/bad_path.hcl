# want: 8:12: Invalid path: "api/*" is not a path pattern; expected one that starts with '/'
load_balancer "public" {}
service "web" {
  process {
    command = ["./web"]
  }
  route {
    path = "api/*"
  }
}
