# want: 8:9: Duplicate service: A service named "web" is already declared at
service "web" {
  process {
    command = ["./web"]
  }
}

service "web" {
  process {
    command = ["./web"]
  }
}
