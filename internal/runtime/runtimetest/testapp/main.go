// Command testapp is the scriptable instance program on its own, for
// drivers that cannot run the test binary itself: the container driver's
// tests build it with CGO_ENABLED=0 into an image FROM scratch.
package main

import (
	"os"

	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
)

func main() {
	os.Exit(runtimetest.RunApp())
}
