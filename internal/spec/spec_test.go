package spec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func valid() Desired {
	web := NewService("web")
	web.Process = &Process{Command: []string{"/bin/web"}, Dir: "/srv"}
	web.Routes = []Route{{LoadBalancer: "public", Path: "/*"}}
	return Desired{LoadBalancers: []LoadBalancer{NewLoadBalancer("public")}, Services: []Service{web}}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Desired)
		want   string // "" for valid; else "path: message" prefix
	}{
		{"defaults are valid", func(d *Desired) {}, ""},
		{"no process", func(d *Desired) { d.Services[0].Process = nil }, "service.web: a service needs a process block or a container block"},
		{"container is valid", func(d *Desired) { d.Services[0].Process, d.Services[0].Container = nil, container() }, ""},
		{"process and container", func(d *Desired) { d.Services[0].Container = container() }, "service.web.container: a service runs as a process or as a container, not both"},
		{"image", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Image = "Registry/App:1" })
		}, `service.web.container.image: "Registry/App:1" is not an image reference: invalid reference format: repository name`},
		{"no image", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Image = "" })
		}, `service.web.container.image: must name an image`},
		{"no port", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Port = 0 })
		}, "service.web.container.port: must be the port the container serves HTTP on, from 1 to 65535, got 0"},
		{"host network takes no port", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Network = HostNetwork })
		}, `service.web.container.port: must be left out with network = "host"`},
		{"host network", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Network, c.Port = HostNetwork, 0 })
		}, ""},
		{"no network", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Network = "none" })
		}, `service.web.container.network: "none" would leave the load balancer no way in`},
		{"tiny memory", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Memory = 1 << 20 })
		}, "service.web.container.memory: must be at least 6MiB (the engine refuses less), got 1MiB"},
		{"cpus", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.CPUs = -1 })
		}, "service.web.container.cpus: must be between 0.01 and 1024, got -1"},
		{"volume target", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Volumes = []string{"/srv/data:/data", "/srv/x:data"} })
		}, `service.web.container.volumes[1]: the target "data" must be an absolute path in the container, in "/srv/x:data"`},
		{"volume mode", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Volumes = []string{"cache:/data:rx"} })
		}, `service.web.container.volumes[0]: the mode "rx" must be "ro" or "rw", in "cache:/data:rx"`},
		{"pull", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Pull = "sometimes" })
		}, `service.web.container.pull: "sometimes" is not a pull policy; expected "always" or "missing" or "never"`},
		{"container env", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Env = map[string]string{"PORT": "1"} })
		}, "service.web.container.env: PORT is set by teal"},
		{"build", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container()
			d.Services[0].Build = &Build{Context: "/src/web", Dockerfile: "deploy/Dockerfile"}
		}, ""},
		{"build without a container", func(d *Desired) { d.Services[0].Build = &Build{Context: "/src/web", Dockerfile: "Dockerfile"} }, "service.web.build: builds an image, so the service needs a container block"},
		{"dockerfile outside the context", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container()
			d.Services[0].Build = &Build{Context: "/src/web", Dockerfile: "../Dockerfile"}
		}, `service.web.build.dockerfile: must be a path inside the build context, like "Dockerfile", got "../Dockerfile"`},
		{"build never pulls", func(d *Desired) {
			d.Services[0].Process, d.Services[0].Container = nil, container(func(c *Container) { c.Pull = PullNever })
			d.Services[0].Build = &Build{Context: "/src/web", Dockerfile: "Dockerfile"}
		}, `service.web.container.pull: "never" cannot go with a build block`},
		{"relative dir", func(d *Desired) { d.Services[0].Process.Dir = "srv" }, `service.web.process.dir: must be an absolute path, got "srv"`},
		{"empty command", func(d *Desired) { d.Services[0].Process.Command = nil }, "service.web.process.command: must name a program"},
		{"bad service name", func(d *Desired) { d.Services[0].Name = "9web" }, `service.9web: service name "9web" must start with a letter`},
		{"duplicate service", func(d *Desired) { d.Services = append(d.Services, d.Services[0]) }, `service.web: service "web" is declared twice`},
		{"zero count", func(d *Desired) { d.Services[0].DesiredCount = 0 }, "service.web.desired_count: must be between 1 and 1000, got 0"},
		{"undeclared load balancer", func(d *Desired) { d.Services[0].Routes[0].LoadBalancer = "x" }, `service.web.route[0].load_balancer: no load balancer named "x" is declared`},
		{"same listen twice", func(d *Desired) {
			other := NewLoadBalancer("other")
			d.LoadBalancers = append(d.LoadBalancers, other)
		}, `load_balancer.other.listen: 127.0.0.1:8080 is also the address of load balancer "public"`},
		{"listen host name", func(d *Desired) { d.LoadBalancers[0].Listen = "example.com:80" }, "load_balancer.public.listen: \"example.com:80\": host must be an IP address or localhost"},
		{"same automatic route twice", func(d *Desired) {
			api := d.Services[0]
			api.Name = "api"
			d.Services = append(d.Services, api)
		}, `service.api.route[0]: matches exactly what service "web" route 1 matches`},
		{"priority out of range", func(d *Desired) { d.Services[0].Routes[0].Priority = 50001 }, "service.web.route[0].priority: must be between 1 and 50000"},
		{"host pattern", func(d *Desired) { d.Services[0].Routes[0].Host = "exa mple.com" }, `service.web.route[0].host: "exa mple.com" is not a host pattern`},
		{"health path", func(d *Desired) { d.Services[0].HealthCheck.Path = "health" }, `service.web.health_check.path: must start with '/'`},
		{"threshold", func(d *Desired) { d.Services[0].HealthCheck.HealthyThreshold = 11 }, "service.web.health_check.healthy_threshold: must be between 1 and 10, got 11"},
		{"negative keep", func(d *Desired) { d.Services[0].Deploy.KeepPrevious = -1 }, "service.web.deploy.keep_previous: must not be negative"},
		{"zero keep is fine", func(d *Desired) { d.Services[0].Deploy.KeepPrevious = 0 }, ""},
		{"strategy", func(d *Desired) { d.Services[0].Deploy.Strategy = "linear" }, `service.web.deploy.strategy: "linear" is not a strategy teal knows; expected "blue_green" or "canary" or "rolling"`},
		{"canary without steps", func(d *Desired) { d.Services[0].Deploy.Strategy = Canary }, "service.web.deploy: a canary needs at least one step"},
		{"canary steps go up", func(d *Desired) {
			d.Services[0].Deploy.Strategy = Canary
			d.Services[0].Deploy.Steps = []CanaryStep{{Weight: 50}, {Weight: 10}}
		}, "service.web.deploy.step[1].weight: must be more than the step before it (50), got 10"},
		{"canary step of 100", func(d *Desired) {
			d.Services[0].Deploy.Strategy = Canary
			d.Services[0].Deploy.Steps = []CanaryStep{{Weight: 100}}
		}, "service.web.deploy.step[0].weight: must be between 1 and 99"},
		{"steps without canary", func(d *Desired) { d.Services[0].Deploy.Steps = []CanaryStep{{Weight: 10}} }, `service.web.deploy.step[0]: steps are for strategy = "canary", not "blue_green"`},
		{"rolling needs a batch", func(d *Desired) { d.Services[0].Deploy.Strategy = Rolling }, "service.web.deploy: a rolling deployment needs batch_size"},
		{"rolling percentages that round to nothing", func(d *Desired) {
			d.Services[0].Deploy.Strategy = Rolling
			d.Services[0].Deploy.MaxUnavailable = Quantity{N: 10, Percent: true}
		}, "service.web.deploy.max_unavailable: with 1 instances, max_unavailable and max_surge both come to 0"},
		{"batch and surge", func(d *Desired) {
			d.Services[0].Deploy.Strategy = Rolling
			d.Services[0].Deploy.BatchSize = 2
			d.Services[0].Deploy.MaxSurge = Quantity{N: 1}
		}, "service.web.deploy.batch_size: give batch_size, or max_unavailable and max_surge, not both"},
		{"empty hook", func(d *Desired) { d.Services[0].Deploy.BeforeSwitch = []string{} }, "service.web.deploy.before_switch: must name a program"},
		{"redirect without tls", func(d *Desired) { d.LoadBalancers[0].RedirectHTTP = "127.0.0.1:8081" }, "load_balancer.public.redirect_http: redirects to HTTPS, so the load balancer needs a tls block"},
		{"redirect on a taken address", func(d *Desired) {
			d.LoadBalancers[0].TLS = []TLSCertificate{{Certificate: "/c.pem", Key: "/k.pem"}}
			d.LoadBalancers[0].RedirectHTTP = DefaultListen
		}, `load_balancer.public.redirect_http: 127.0.0.1:8080 is also the address of load balancer "public"`},
		{"relative certificate", func(d *Desired) { d.LoadBalancers[0].TLS = []TLSCertificate{{Certificate: "c.pem", Key: "/k.pem"}} }, `load_balancer.public.tls[0].certificate: must be a path to a PEM file, got "c.pem"`},
		{"trusted proxy", func(d *Desired) { d.LoadBalancers[0].TrustedProxies = []string{"10.0.0.0/8", "::1", "10.0.0/8"} }, `load_balancer.public.trusted_proxies: "10.0.0/8" is not an IP address or a CIDR block`},
		{"tiny header limit", func(d *Desired) { d.LoadBalancers[0].Limits.Header = 10 }, "load_balancer.public.limits.header: must be at least 1KiB, got 10B"},
		{"preview says nothing", func(d *Desired) { d.Services[0].Preview = &Preview{} }, "service.web.preview: say how to reach the candidate"},
		{"preview header", func(d *Desired) { d.Services[0].Preview = &Preview{Header: "X Slot"} }, `service.web.preview.header: "X Slot" is not a header name`},
		{"preview listener clash", func(d *Desired) { d.Services[0].Preview = &Preview{Listen: DefaultListen} }, `service.web.preview.listen: 127.0.0.1:8080 is also the address of load balancer "public"`},
		{"sticky cookie", func(d *Desired) { d.Services[0].Sticky = &Sticky{Cookie: "a;b"} }, `service.web.sticky.cookie: "a;b" is not a cookie name`},
		{"zero connect timeout", func(d *Desired) { d.Services[0].Timeouts.Connect = 0 }, "service.web.timeouts.connect: must be longer than zero"},
		{"reserved env", func(d *Desired) { d.Services[0].Process.Env = map[string]string{"TEAL_SLOT": "x"} }, "service.web.process.env: TEAL_SLOT is set by teal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := valid()
			tt.change(&d)
			ps := d.Validate()
			if tt.want == "" {
				if len(ps) != 0 {
					t.Fatalf("problems: %v", ps)
				}
				return
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), tt.want) {
				t.Fatalf("problems: %v\nwant one starting %q", ps, tt.want)
			}
		})
	}
}

func container(change ...func(*Container)) *Container {
	c := &Container{Image: "registry.example/web:1.0", Port: 8080, Memory: 512 << 20, CPUs: 0.5, Pull: PullMissing}
	for _, f := range change {
		f(c)
	}
	return c
}

// A template holds everything that makes an instance, so a change of the
// container or the build is a new revision, and WithTemplate puts it back.
func TestContainerTemplate(t *testing.T) {
	web := NewService("web")
	web.Container = container()
	web.Build = &Build{Context: "/src", Dockerfile: "Dockerfile"}
	before := web.Template().Hash()
	web.Build.Args = map[string]string{"GO_VERSION": "1.26"}
	if web.Template().Hash() == before {
		t.Error("a changed build keeps the template's hash")
	}
	other := NewService("web")
	other.DesiredCount = 3
	back := other.WithTemplate(web.Template())
	if back.Container != web.Container || back.Build != web.Build || back.DesiredCount != 3 {
		t.Errorf("WithTemplate: %+v", back)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]string{"30s": "30s", "2m": "2m", "1h": "1h", "90s": "1m30s", "500ms": "500ms", "0s": "0s", "1h30m": "1h30m"} {
		d, err := ParseDuration(in)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != want {
			t.Errorf("%s: String() = %q, want %q", in, d.String(), want)
		}
		b, _ := json.Marshal(d)
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("%s: JSON round trip gave %v, %v", in, back, err)
		}
	}
	if _, err := ParseDuration("5"); err == nil || !strings.Contains(err.Error(), `like "30s"`) {
		t.Errorf("ParseDuration(5) = %v", err)
	}
	if DefaultKeepPrevious.D() != 5*time.Minute {
		t.Error("Duration.D")
	}
}

// Only the version and the process make a new revision; the hash says so.
func TestTemplate(t *testing.T) {
	a := valid().Services[0]
	b := a
	b.DesiredCount = 5
	b.Routes = nil
	b.HealthCheck.Interval = Duration(time.Minute)
	if a.Template().Hash() != b.Template().Hash() {
		t.Error("count, routes and health check changed the template")
	}
	c := a
	c.Process = &Process{Command: []string{"/bin/web"}, Dir: "/srv", Env: map[string]string{"A": "1"}}
	d := a
	d.Version = "2"
	if a.Template().Hash() == c.Template().Hash() || a.Template().Hash() == d.Template().Hash() {
		t.Error("env or version did not change the template")
	}
}

func TestSlotOther(t *testing.T) {
	if Blue.Other() != Green || Green.Other() != Blue || Slot("").Other() != Blue {
		t.Error("Other")
	}
}

func TestByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"0": 0, "512KiB": 512 << 10, "64MiB": 64 << 20, "1GiB": 1 << 30, "100MB": 100e6, "1.5MiB": 3 << 19, "10B": 10} {
		got, err := ParseByteSize(in)
		if err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "64", "64mb", "-1MiB", "MiB", "1e30GiB"} {
		if _, err := ParseByteSize(bad); err == nil || !strings.Contains(err.Error(), `like "512KiB"`) {
			t.Errorf("ParseByteSize(%q) = %v", bad, err)
		}
	}
	for b, want := range map[ByteSize]string{0: "0", 64 << 20: "64MiB", 1536: "1536B", 3 << 10: "3KiB"} {
		if b.String() != want {
			t.Errorf("%d.String() = %q, want %q", b, b.String(), want)
		}
	}
}

func TestQuantity(t *testing.T) {
	for in, want := range map[string]Quantity{"2": {N: 2}, "25%": {N: 25, Percent: true}, "0": {}} {
		q, err := ParseQuantity(in)
		if err != nil || q != want || q.String() != in {
			t.Errorf("ParseQuantity(%q) = %+v %v", in, q, err)
		}
	}
	for _, bad := range []string{"-1", "x", "150%", "2.5"} {
		if _, err := ParseQuantity(bad); err == nil {
			t.Errorf("ParseQuantity(%q) succeeded", bad)
		}
	}
	if n := (Quantity{N: 25, Percent: true}).Of(10, false); n != 2 {
		t.Errorf("25%% of 10 rounded down = %d", n)
	}
	if n := (Quantity{N: 25, Percent: true}).Of(10, true); n != 3 {
		t.Errorf("25%% of 10 rounded up = %d", n)
	}
}

func TestIsSensitive(t *testing.T) {
	d := Desired{Sensitive: []string{"service.web.process.env.DB", "service.api.process.command"}}
	for path, want := range map[string]bool{
		"service.web.process.env.DB":     true,
		"service.web.process.env.DB_URL": false,
		"service.web.process.env":        false,
		"service.api.process.command":    true,
		"service.api.process.command[0]": true,
		"service.api.process.dir":        false,
	} {
		if got := d.IsSensitive(path); got != want {
			t.Errorf("IsSensitive(%q) = %t, want %t", path, got, want)
		}
	}
}

func TestRedacted(t *testing.T) {
	s := valid().Services[0]
	s.Process.Env = map[string]string{"DB_PASSWORD": "hunter2", "MODE": "qa"}
	s.Sensitive = []string{"process.env.DB_PASSWORD"}
	r := s.Redacted()
	if r.Process.Env["DB_PASSWORD"] != RedactedValue || r.Process.Env["MODE"] != "qa" {
		t.Errorf("Redacted env = %v", r.Process.Env)
	}
	if s.Process.Env["DB_PASSWORD"] != "hunter2" {
		t.Error("Redacted changed the original")
	}
	s.Sensitive = []string{"process.command"}
	if r := s.Redacted(); r.Process.Command[0] != RedactedValue || s.Process.Command[0] != "/bin/web" {
		t.Errorf("Redacted command = %v, original %v", r.Process.Command, s.Process.Command)
	}
	// Every block, not only process: a container's env, a build's args.
	c := valid().Services[0]
	c.Process = nil
	c.Container = &Container{Image: "web:1", Env: map[string]string{"TOKEN": "t0ken", "MODE": "qa"}}
	c.Build = &Build{Context: "/src", Dockerfile: "Dockerfile", Args: map[string]string{"NPM_TOKEN": "npm-s3cret"}}
	c.Sensitive = []string{"build.args.NPM_TOKEN", "container.env.TOKEN"}
	rc := c.Redacted()
	if rc.Container.Env["TOKEN"] != RedactedValue || rc.Container.Env["MODE"] != "qa" || rc.Build.Args["NPM_TOKEN"] != RedactedValue || c.Container.Env["TOKEN"] != "t0ken" {
		t.Errorf("Redacted container %+v, build %+v", rc.Container, rc.Build)
	}
	if !s.IsSensitive("process.command") || s.IsSensitive("process.commander") || !(Service{Sensitive: []string{"process.env"}}).IsSensitive("process.env.X") {
		t.Error("IsSensitive")
	}
}
