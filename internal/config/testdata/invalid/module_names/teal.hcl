load_balancer "public" {}

module "qa" {
  source   = "./modules/app"
  app_name = "reporting"
  port     = 80
}
# want: 6:14: Invalid value for variable: Use a port from 1024 up. This was checked by the validation rule at testdata/invalid/module_names/modules/app/main.hcl:5,3-13. (in module.qa)

module "prod" {
  source   = "./modules/app"
  app_name = "reporting"
}

service "app" {
  name = "qa-worker"
  process {
    command = ["./app"]
  }
}
