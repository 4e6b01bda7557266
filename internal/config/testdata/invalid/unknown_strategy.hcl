# want: 7:16: Invalid strategy: "bluegreen" is not one of ["blue_green" "canary" "rolling"]. Did you mean "blue_green"?
service "web" {
  process {
    command = ["./web"]
  }
  deploy {
    strategy = "bluegreen"
  }
}
