package container_test

import (
	"testing"

	"github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/runtime/container/containertest"
	"github.com/teal-deploy/teal/internal/runtime/runtimetest"
	"github.com/teal-deploy/teal/internal/spec"
)

// appSpec runs the instance program in a container, listening on all of
// the container's addresses (it has its own network), port 8080.
func appSpec(image, id string, b runtimetest.Behaviour) runtime.InstanceSpec {
	env := b.Env()
	env[runtimetest.EnvHost] = "0.0.0.0"
	return runtime.InstanceSpec{
		ID: id, Service: "test", Revision: 1, Slot: spec.Blue,
		Container: &spec.Container{Image: image, Port: 8080, Env: env, Pull: spec.PullNever},
	}
}

func TestConformance(t *testing.T) {
	d := containertest.Driver(t)
	img := containertest.Image(t, d)
	runtimetest.Run(t, runtimetest.Harness{
		Driver: d,
		Spec:   func(id string, b runtimetest.Behaviour) runtime.InstanceSpec { return appSpec(img, id, b) },
		Broken: func(id string) runtime.InstanceSpec {
			return appSpec("localhost/teal-no-such-image:none", id, runtimetest.Behaviour{})
		},
		OutOfMemory: func(id string) runtime.InstanceSpec {
			s := appSpec(img, id, runtimetest.Behaviour{EatMemory: 256})
			s.Container.Memory = 32 << 20
			return s
		},
	})
}
