# want: 20:13: Invalid blue: 127.0.0.2:8080 is also the address of load balancer "public"
# want: 21:13: Invalid green: must have blue's port (8080)
# want: 22:13: Invalid ttl: must be whole seconds
# want: 32:13: Invalid name: "app.example.test" is already the record of service "app"
# want: 33:13: Invalid blue: "localhost:9090" is not IP:port
# want: 34:13: Invalid green: "0.0.0.0:9090" cannot be published
# want: 41:3: Invalid dns: a dns block is for switch = "dns"
load_balancer "public" {
  listen = "127.0.0.2:8080"
}
dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}
service "app" {
  switch = "dns"
  process {
    command = ["./app"]
  }
  dns {
    blue  = "127.0.0.2:8080"
    green = "127.0.0.3:8081"
    ttl   = "1500ms"
    name  = "app.example.test"
  }
}
service "api" {
  switch = "dns"
  process {
    command = ["./api"]
  }
  dns {
    name  = "app.example.test"
    blue  = "localhost:9090"
    green = "0.0.0.0:9090"
  }
}
service "web" {
  process {
    command = ["./web"]
  }
  dns {
    name  = "web.example.test"
    blue  = "127.0.0.4:8080"
    green = "127.0.0.5:8080"
  }
}
