# Every *.hcl file of a directory is one configuration.
load_balancer "public" {
  listen = "127.0.0.1:8080"
}

load_balancer "internal" {
  listen = "127.0.0.1:8081"
}
