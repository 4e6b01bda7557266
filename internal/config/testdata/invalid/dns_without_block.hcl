# want: 6:12: Invalid switch: switch = "dns" needs a dns block
dns_zone "example.test" {
  listen = "127.0.0.1:5353"
}
service "app" {
  switch = "dns"
  process {
    command = ["./app"]
  }
}
