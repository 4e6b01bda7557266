# want: 9:5: Unsupported argument: An argument named "intervall" is not expected here. Did you mean "interval"?
load_balancer "public" {}
service "web" {
  process {
    command = ["./web"]
  }
  route {}
  health_check {
    intervall = "1s"
  }
}
