# want: 3:13: Call to unknown function: There is no function named "lowr". Did you mean "lower"?
service "web" {
  version = lowr("V1")
  process {
    command = ["./web"]
  }
}
