# Modules may feed each other's outputs to each other, but not in a loop.
module "a" {
  source = "./modules/pass"
  in     = module.b.out
}

module "b" {
  source = "./modules/pass"
  in     = module.a.out
}
