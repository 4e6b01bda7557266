# want: 12:3: Invalid route: a service with switch = "dns" is reached at its slots' own addresses
# want: 16:18: Invalid strategy: a DNS record points at one slot at a time, so switch = "dns" deploys by "blue_green", not "rolling"
load_balancer "public" {}
dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}
service "app" {
  switch = "dns"
  process {
    command = ["./app"]
  }
  route {
    path = "/*"
  }
  deploy {
    strategy   = "rolling"
    batch_size = 1
  }
  dns {
    name  = "app.example.test"
    blue  = "127.0.0.2:8080"
    green = "127.0.0.3:8080"
  }
}
