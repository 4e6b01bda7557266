# Every *.hcl file of a directory is one configuration.
load_balancer "public" {
  listen = "127.0.0.1:8080"
}

load_balancer "internal" {
  listen          = "127.0.0.1:8081"
  h2c             = true
  access_log      = true
  trusted_proxies = ["10.0.0.0/8", "127.0.0.1"]
  timeouts {
    read_header = "5s"
    idle        = "2m"
    send        = "30s"
  }
  limits {
    request_body = "1GiB"
    header       = "16KiB"
  }
}

load_balancer "secure" {
  listen        = "127.0.0.1:8443"
  redirect_http = "127.0.0.1:8082"
  tls {
    certificate = "certs/site.pem"
    key         = "certs/site-key.pem"
  }
  tls {
    certificate = "/etc/teal/other.pem"
    key         = "/etc/teal/other-key.pem"
  }
}
