# want: 3:12: Invalid listen: "localhost:http": port must be a number from 1 to 65535.
load_balancer "public" {
  listen = "localhost:http"
}
