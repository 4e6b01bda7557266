# want: 10:16: Invalid weight: must be more than the step before it (50), got 20.
service "web" {
  process { command = ["./web"] }
  deploy {
    strategy = "canary"
    step {
      weight = 50
    }
    step {
      weight = 20
    }
  }
}
