# want: 7:23: Invalid max_surge: "lots" is not a count or a percentage; expected a number like 2 or "25%".
service "web" {
  process { command = ["./web"] }
  deploy {
    strategy        = "rolling"
    max_unavailable = 1
    max_surge       = "lots"
  }
}
