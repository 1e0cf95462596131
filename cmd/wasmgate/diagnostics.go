package main

import (
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// summarize counts diags: "2 errors, 1 warning".
func summarize(diags hcl.Diagnostics) string {
	var errs, warns int
	for _, d := range diags {
		if d.Severity == hcl.DiagWarning {
			warns++
		} else {
			errs++
		}
	}
	var parts []string
	if errs > 0 {
		parts = append(parts, plural(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
