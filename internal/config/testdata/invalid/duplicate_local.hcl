locals {
  version = "1"
}
locals {
  version = "2"
}
# want: 5:3: Duplicate local value: A local value named "version" is already defined at
