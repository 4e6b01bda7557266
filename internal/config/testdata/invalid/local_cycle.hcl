# Locals may be written in any order, but not refer to each other in a loop.
locals {
  a = local.b
  b = "${local.c}-x"
  c = upper(local.a)
  d = "fine"
}
# want: 5:13: Cycle in references: These values refer to each other in a loop, so none of them can be worked out: local.a → local.b → local.c → local.a.
