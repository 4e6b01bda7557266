# want: 4:20: Invalid request_body: "64 megs" is not a size; expected a number with a unit, like "512KiB", "64MiB" or "1GiB".
load_balancer "public" {
  limits {
    request_body = "64 megs"
  }
}
