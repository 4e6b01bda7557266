# want: 8:3: Missing load_balancer: There are 2 load balancers; say which one this route uses
load_balancer "public" {}
load_balancer "internal" { listen = "127.0.0.1:8081" }
service "web" {
  process {
    command = ["./web"]
  }
  route {
    path = "/*"
  }
}
