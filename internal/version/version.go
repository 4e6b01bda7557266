// Package version says which teal this is.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at build time with
// -ldflags "-X github.com/teal-deploy/teal/internal/version.Version=v1.2.3";
// a plain build reports the module version, or "dev".
var Version = ""

// String returns the version with the commit and Go version when known,
// like "teal v0.1.0 (commit 1a2b3c4, go1.26.8 linux/amd64)".
func String() string {
	v, commit, dirty := Version, "", false
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	detail := runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	if commit != "" {
		if len(commit) > 12 {
			commit = commit[:12]
		}
		if dirty {
			commit += "+changes"
		}
		detail = "commit " + commit + ", " + detail
	}
	return fmt.Sprintf("teal %s (%s)", v, detail)
}
