# want: 2:1: No value for required variable: Variable "version" has no default; set it with -var version=..., TEAL_VAR_version or a -var-file.
variable "version" {}
