# want: 3:3: Invalid key: is required: the path to a PEM file.
load_balancer "secure" {
  tls {
    certificate = "site.pem"
  }
}
