# want: 6:3: Invalid preview: say how to reach the candidate: a header, a cookie or a listen address.
service "web" {
  process {
    command = ["./web"]
  }
  preview {
    header = ""
  }
}
