# want: 3:19: Invalid redirect_http: redirects to HTTPS, so the load balancer needs a tls block.
load_balancer "public" {
  redirect_http = "127.0.0.1:8081"
}
