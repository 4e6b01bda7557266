variable "in" {
  type = string
}

output "out" {
  value = "${var.in}+"
}
# want: 6:14: Cycle in references: These values refer to each other in a loop, so none of them can be worked out: module.a.var.in → module.b.output.out → module.b.var.in → module.a.output.out → module.a.var.in. (in module.a)
