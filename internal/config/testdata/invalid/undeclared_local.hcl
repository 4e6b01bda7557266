# want: 6:13: Reference to undeclared local value: No local value named "verison" is declared. Did you mean "version"?
locals {
  version = "1.0"
}
service "web" {
  version = local.verison
  process {
    command = ["./web"]
  }
}
