# A module used twice: a mistake in its files is reported once, naming
# both uses; one that depends on what a use gives is reported for it.
load_balancer "public" {}

module "a" {
  source = "./modules/app"
  name   = "a"
  count  = 0
}

module "b" {
  source = "./modules/app"
  name   = "b"
}
