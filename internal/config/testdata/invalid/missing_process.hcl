# want: 2:1: Invalid service "web": a service needs a process block or a container block that says how to run it.
service "web" {
  version = "1"
}
