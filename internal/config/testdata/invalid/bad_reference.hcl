# want: 3:13: Unknown reference: "self" is not something a configuration can refer to; expected var.NAME, local.NAME, module.NAME.OUTPUT, path.module or path.root.
service "web" {
  version = self.version
  process {
    command = ["./web"]
  }
}
