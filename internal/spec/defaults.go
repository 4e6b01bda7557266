package spec

import "time"

// Defaults for what a configuration leaves out. They follow what users of
// an AWS ALB, ECS and Nomad expect, tightened where teal runs local
// processes that start in well under a second. The README lists them.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultDesiredCount = 1
	DefaultRoutePath    = "/*"

	DefaultHealthPath         = "/"
	DefaultHealthInterval     = Duration(1 * time.Second)
	DefaultHealthTimeout      = Duration(2 * time.Second)
	DefaultHealthyThreshold   = 2
	DefaultUnhealthyThreshold = 3
	DefaultGracePeriod        = Duration(30 * time.Second)

	DefaultPull       = PullMissing
	DefaultDockerfile = "Dockerfile"

	DefaultStrategy     = BlueGreen
	DefaultReadyTimeout = Duration(2 * time.Minute)
	DefaultDrainTimeout = Duration(30 * time.Second)
	DefaultKeepPrevious = Duration(5 * time.Minute)
)

// NewLoadBalancer returns a load balancer with every default filled in.
func NewLoadBalancer(name string) LoadBalancer {
	return LoadBalancer{Name: name, Listen: DefaultListen}
}

// NewService returns a service with every default filled in; the
// configuration decoder starts from it and overrides what is written.
func NewService(name string) Service {
	return Service{
		Name:         name,
		DesiredCount: DefaultDesiredCount,
		HealthCheck: HealthCheck{
			Path:               DefaultHealthPath,
			Interval:           DefaultHealthInterval,
			Timeout:            DefaultHealthTimeout,
			HealthyThreshold:   DefaultHealthyThreshold,
			UnhealthyThreshold: DefaultUnhealthyThreshold,
			GracePeriod:        DefaultGracePeriod,
		},
		Deploy: Deploy{
			Strategy:     DefaultStrategy,
			ReadyTimeout: DefaultReadyTimeout,
			DrainTimeout: DefaultDrainTimeout,
			KeepPrevious: DefaultKeepPrevious,
		},
	}
}

// NewRoute returns a route with every default filled in except the load
// balancer, which defaults to the only one declared.
func NewRoute() Route {
	return Route{Path: DefaultRoutePath}
}

// NewContainer returns a container with every default filled in.
func NewContainer() Container {
	return Container{Pull: DefaultPull}
}

// NewBuild returns a build of the directory dir with every default filled
// in.
func NewBuild(dir string) Build {
	return Build{Context: dir, Dockerfile: DefaultDockerfile}
}
