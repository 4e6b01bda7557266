# want: 3:16: Invalid access_log: Expected true or false; got the string "yes".
load_balancer "public" {
  access_log = "yes"
}
