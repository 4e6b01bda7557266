# want: 5:1: Invalid listen: say how the zone is published
# want: 8:12: Invalid listen: give listen (teal answers for the zone) or an update block (another server does), not both
# want: 13:18: Invalid algorithm: "hmac-md5" is not one of
# want: 16:10: Duplicate dns_zone: The zone "example.test" is already declared
dns_zone "example.test" {
}
dns_zone "other.test" {
  listen = "127.0.0.1:5353"
  update {
    server     = "127.0.0.1:53"
    key_name   = "teal-key"
    key_secret = "c2VjcmV0"
    algorithm  = "hmac-md5"
  }
}
dns_zone "Example.Test." {
  listen = "127.0.0.1:5354"
}
