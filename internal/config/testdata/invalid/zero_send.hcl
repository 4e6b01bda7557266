# want: 3:21: Invalid send: must be longer than zero.
load_balancer "public" {
  timeouts { send = "0s" }
}
