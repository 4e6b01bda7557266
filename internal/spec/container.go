package spec

import (
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/distribution/reference"
)

// Container says how the container driver runs one instance: an image,
// started through the Docker Engine API (Docker or Podman), with Port
// published on a loopback address that teal chooses and on nothing else,
// so that the load balancer is the only way in.
type Container struct {
	Image      string            `json:"image"`                // "registry.example/api:1.2.0"
	Command    []string          `json:"command,omitempty"`    // replaces the image's CMD
	Entrypoint []string          `json:"entrypoint,omitempty"` // replaces the image's ENTRYPOINT
	Env        map[string]string `json:"env,omitempty"`
	// Port is where the container serves HTTP, inside its network; it is
	// also passed as $PORT. Zero with Network "host", where teal picks a
	// free loopback port and passes it as $PORT, as for a process.
	Port    int      `json:"port,omitempty"`
	Memory  ByteSize `json:"memory,omitempty"` // zero: no limit
	CPUs    float64  `json:"cpus,omitempty"`   // zero: no limit
	Volumes []string `json:"volumes,omitempty"`
	Network string   `json:"network,omitempty"` // empty: the engine's default bridge network
	Pull    Pull     `json:"pull"`
}

// Build says how `teal apply` builds a service's image through the
// engine before it deploys a revision: the image is tagged with the
// container's image reference.
type Build struct {
	Context    string            `json:"context"`    // absolute directory
	Dockerfile string            `json:"dockerfile"` // relative to Context
	Args       map[string]string `json:"args,omitempty"`
}

// Pull says when the container driver pulls a service's image.
type Pull string

// The pull policies, as Kubernetes and Compose name them.
const (
	PullAlways  Pull = "always"  // before every start: a moved tag is followed
	PullMissing Pull = "missing" // only when the engine does not have the image
	PullNever   Pull = "never"   // the image must be there already
)

// PullPolicies lists the pull policies a configuration may name.
var PullPolicies = []Pull{PullAlways, PullMissing, PullNever}

// HostNetwork is the Network that runs a container in the host's network,
// with no port publishing.
const HostNetwork = "host"

// Limits on what a container may ask for.
const (
	// MinMemory is the smallest memory limit Docker accepts.
	MinMemory = ByteSize(6 << 20)
	MaxCPUs   = 1024
)

var (
	volumeNamePattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	networkNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
)

func (v *validator) container(at string, c Container, build *Build) {
	if c.Image == "" {
		v.add(at+".image", "must name an image, like \"registry.example/api:1.2.0\"")
	} else if _, err := reference.ParseNormalizedNamed(c.Image); err != nil {
		v.add(at+".image", "%q is not an image reference: %v", c.Image, err)
	}
	switch {
	case c.Network == HostNetwork && c.Port != 0:
		v.add(at+".port", "must be left out with network = \"host\": teal picks a free loopback port and passes it as $PORT")
	case c.Network != HostNetwork && (c.Port < 1 || c.Port > 65535):
		v.add(at+".port", "must be the port the container serves HTTP on, from 1 to 65535, got %d", c.Port)
	}
	if c.Memory != 0 && c.Memory < MinMemory {
		v.add(at+".memory", "must be at least %s (the engine refuses less), got %s", MinMemory, c.Memory)
	}
	if !(c.CPUs >= 0 && c.CPUs <= MaxCPUs) || (c.CPUs > 0 && c.CPUs < 0.01) { // NaN too
		v.add(at+".cpus", "must be between 0.01 and %d, got %g", MaxCPUs, c.CPUs)
	}
	for i, vol := range c.Volumes {
		if err := checkVolume(vol); err != nil {
			v.add(fmt.Sprintf("%s.volumes[%d]", at, i), "%v", err)
		}
	}
	switch {
	case c.Network == "none":
		v.add(at+".network", "\"none\" would leave the load balancer no way in; use the default, \"host\" or a network's name")
	case c.Network != "" && !networkNamePattern.MatchString(c.Network):
		v.add(at+".network", "%q is not a network name", c.Network)
	}
	known := false
	for _, p := range PullPolicies {
		known = known || c.Pull == p
	}
	if !known {
		v.add(at+".pull", "%q is not a pull policy; expected %s", c.Pull, quoteList(PullPolicies))
	} else if build != nil && c.Pull == PullNever {
		v.add(at+".pull", "\"never\" cannot go with a build block: the build pulls its base images as \"missing\" does")
	}
	v.env(at+".env", c.Env)
}

// checkVolume checks a volume written as Docker's -v takes it:
// SOURCE:TARGET or SOURCE:TARGET:MODE, where SOURCE is an absolute host
// path or a volume's name, TARGET an absolute path in the container and
// MODE "ro" or "rw".
func checkVolume(vol string) error {
	parts := strings.Split(vol, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return fmt.Errorf("%q is not a volume; expected \"SOURCE:TARGET\" or \"SOURCE:TARGET:ro\", like \"./data:/data\" or \"cache:/var/cache:ro\"", vol)
	}
	src, dst := parts[0], parts[1]
	if !filepath.IsAbs(src) && !volumeNamePattern.MatchString(src) {
		return fmt.Errorf("the source %q is neither an absolute path nor a volume name, in %q", src, vol)
	}
	if !path.IsAbs(dst) {
		return fmt.Errorf("the target %q must be an absolute path in the container, in %q", dst, vol)
	}
	if len(parts) == 3 && parts[2] != "ro" && parts[2] != "rw" {
		return fmt.Errorf("the mode %q must be \"ro\" or \"rw\", in %q", parts[2], vol)
	}
	return nil
}

func (v *validator) build(at string, b Build) {
	if !filepath.IsAbs(b.Context) {
		v.add(at+".context", "must be an absolute path, got %q", b.Context)
	}
	if b.Dockerfile == "" || filepath.IsAbs(b.Dockerfile) || !filepath.IsLocal(b.Dockerfile) {
		v.add(at+".dockerfile", "must be a path inside the build context, like \"Dockerfile\", got %q", b.Dockerfile)
	}
}
