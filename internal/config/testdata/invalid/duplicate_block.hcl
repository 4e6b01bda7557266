# want: 6:3: Duplicate process block: service "web" takes one process block; the first is at
service "web" {
  process {
    command = ["./web"]
  }
  process {
    command = ["./other"]
  }
}
