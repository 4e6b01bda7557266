# want: 3:13: Unknown reference: "local" is not something a configuration can refer to; variables are written var.NAME, like var.version.
service "web" {
  version = local.version
  process {
    command = ["./web"]
  }
}
