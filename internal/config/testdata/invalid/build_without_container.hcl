# want: 6:3: Invalid build: builds an image, so the service needs a container block that runs it.
service "web" {
  process {
    command = ["./web"]
  }
  build {
    context = "."
  }
}
