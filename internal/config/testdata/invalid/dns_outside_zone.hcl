# want: 11:13: Invalid name: "app.other.test" is in no declared dns_zone (declared: "example.test")
dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}
service "app" {
  switch = "dns"
  process {
    command = ["./app"]
  }
  dns {
    name  = "app.other.test"
    blue  = "127.0.0.2:8080"
    green = "127.0.0.3:8080"
  }
}
