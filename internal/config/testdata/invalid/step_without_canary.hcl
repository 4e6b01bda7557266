# want: 5:5: Invalid step: steps are for strategy = "canary", not "blue_green".
service "web" {
  process { command = ["./web"] }
  deploy {
    step {
      weight = 10
    }
  }
}
