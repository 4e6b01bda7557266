module "app" {
  source = "./modules/app"
}

locals {
  url   = module.app.urll
  other = module.ap.url
  port  = module.app.port
}
# want: 6:11: Unsupported attribute: Module "app" has no output named "urll". Did you mean "url"?
# want: 7:11: Reference to undeclared module: No module block named "ap" is declared. Did you mean "app"?

output "url" {
  value = module.app.url
}
