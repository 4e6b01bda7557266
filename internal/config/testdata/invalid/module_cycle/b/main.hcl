module "a" {
  source = "../a"
}
# want: 2:12: Module cycle: module "a" in module.a.module.b calls testdata/invalid/module_cycle/a, which is already being read: testdata/invalid/module_cycle → testdata/invalid/module_cycle/a → testdata/invalid/module_cycle/b → testdata/invalid/module_cycle/a.
