load_balancer "public" {}

module "reporting" {
  source   = "./modules/webapp"
  app_nme  = "reporting"
  for_each = ["a"]
}
# want: 5:3: Unsupported argument: Module "reporting" (testdata/invalid/module_inputs/modules/webapp) has no variable named "app_nme". Did you mean "app_name"?
# want: 6:3: Unsupported argument: Module "reporting" (testdata/invalid/module_inputs/modules/webapp) has no variable named "for_each". teal modules do not support for_each.
# want: 3:1: Missing required input: Module "reporting" needs a value for variable "app_name", declared without a default at testdata/invalid/module_inputs/modules/webapp/variables.hcl:1,1-20.

module "billing" {
  source = "modules/webapp"
}
# want: 13:12: Invalid module source: Expected a literal path to a directory that starts with ./ or ../

module "nowhere" {
  source = "./modules/none"
}
# want: 18:12: Cannot read module: module "nowhere": open testdata/invalid/module_inputs/modules/none: no such file or directory; source is a directory relative to the configuration directory testdata/invalid/module_inputs.

module "sourceless" {
  app_name = "x"
}
# want: 22:1: Missing required argument: A module block needs source

module "reporting" {
  source = "./modules/webapp"
}
# want: 27:8: Duplicate module: A module block named "reporting" is already declared at
