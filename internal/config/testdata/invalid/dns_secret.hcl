# want: 9:18: Invalid key_secret: The value given is not a TSIG secret
variable "tsig_secret" {
  default = "not base64, and never shown!"
}
dns_zone "example.test" {
  update {
    server     = "127.0.0.1:53"
    key_name   = "teal-key."
    key_secret = var.tsig_secret
  }
}
