# want: 3:17: Missing newline after argument
service "web" {
  version = "1" process {}
}
