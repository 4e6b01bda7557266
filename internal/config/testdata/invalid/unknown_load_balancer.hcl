# want: 7:27: Unknown load balancer: No load_balancer block named "pubic" is declared. Did you mean "public"?
load_balancer "public" {}
service "web" {
  process {
    command = ["./web"]
  }
  route { load_balancer = "pubic" }
}
