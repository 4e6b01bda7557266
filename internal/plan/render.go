package plan

import (
	"fmt"
	"io"

	"github.com/teal-deploy/teal/internal/spec"
)

// Render writes p for people, in Terraform's layout: one block per object
// with + ~ - marks, the attributes that change, and under each block what
// the change does to traffic.
func Render(w io.Writer, p Plan) {
	if !p.HasChanges() {
		fmt.Fprintln(w, "No changes. What runs matches the configuration.")
		return
	}
	fmt.Fprintln(w, "teal will perform the following actions:")
	for _, c := range p.Changes {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "  # %s %s\n", c.Address(), headline(c))
		fmt.Fprintf(w, "  %s %s %q {\n", c.Action.Symbol(), c.Type, c.Name)
		width := 0
		for _, a := range c.Attrs {
			width = max(width, len(a.Path))
		}
		for _, a := range c.Attrs {
			fmt.Fprintf(w, "      %s %-*s = %s%s\n", a.Action.Symbol(), width, a.Path, value(a), mark(c, a))
		}
		if c.Unchanged > 0 {
			fmt.Fprintf(w, "        # (%d unchanged %s hidden)\n", c.Unchanged, plural(c.Unchanged, "attribute"))
		}
		fmt.Fprintln(w, "    }")
		for _, d := range c.Drift {
			fmt.Fprintf(w, "    ! drift: %s\n", d)
		}
		for _, t := range c.Traffic {
			fmt.Fprintf(w, "    → %s\n", t)
		}
	}
	add, change, destroy := p.Counts()
	fmt.Fprintf(w, "\nPlan: %d to add, %d to change, %d to destroy.\n", add, change, destroy)
}

func headline(c Change) string {
	switch c.Action {
	case Create:
		return "will be created"
	case Delete:
		return "will be destroyed"
	}
	if c.Revision != 0 {
		return fmt.Sprintf("will be updated, deploying revision %d", c.Revision)
	}
	if c.Repair > 0 && len(c.Attrs) == 0 {
		return "has drifted, and will be repaired"
	}
	return "will be updated in place"
}

func value(a Attr) string {
	switch a.Action {
	case Create:
		return a.After
	case Delete:
		return a.Before + " -> null"
	default:
		return a.Before + " -> " + a.After
	}
}

// mark flags, on an update, the attributes that make a new revision.
func mark(c Change, a Attr) string {
	if c.Action == Update && a.NewRevision {
		return " # new revision"
	}
	return ""
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// RenderService writes a service's attributes, one per line, as a plan
// shows them; sensitive values are not shown.
func RenderService(w io.Writer, s spec.Service) {
	renderAttrs(w, "service", s.Name, flatten(s))
}

// RenderLoadBalancer writes a load balancer's attributes.
func RenderLoadBalancer(w io.Writer, lb spec.LoadBalancer) {
	renderAttrs(w, "load_balancer", lb.Name, flattenLB(lb))
}

func renderAttrs(w io.Writer, typ, name string, attrs []attr) {
	width := 0
	for _, a := range attrs {
		width = max(width, len(a.path))
	}
	fmt.Fprintf(w, "%s %q {\n", typ, name)
	for _, a := range attrs {
		fmt.Fprintf(w, "  %-*s = %s\n", width, a.path, a.value)
	}
	fmt.Fprintln(w, "}")
}
