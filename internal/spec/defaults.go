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

	DefaultConsecutive5xx = 5

	DefaultReadHeaderTimeout = Duration(10 * time.Second)
	DefaultIdleTimeout       = Duration(60 * time.Second)
	DefaultSendTimeout       = Duration(60 * time.Second) // nginx's send_timeout
	DefaultMaxRequestBody    = ByteSize(64 << 20)
	DefaultMaxHeader         = ByteSize(64 << 10)

	DefaultConnectTimeout        = Duration(5 * time.Second)
	DefaultResponseHeaderTimeout = Duration(60 * time.Second)
	DefaultPreviewHeader         = "X-Teal-Slot"
	DefaultMaxPause              = Duration(30 * time.Second)

	DefaultProgressDeadline     = Duration(10 * time.Minute)
	DefaultHookTimeout          = Duration(5 * time.Minute)
	DefaultAnalysisInterval     = Duration(5 * time.Second)
	DefaultMinRequests          = 100
	DefaultMaxErrorRate         = 0.01
	DefaultRevisionHistoryLimit = 10

	DefaultStrategy     = BlueGreen
	DefaultReadyTimeout = Duration(2 * time.Minute)
	DefaultDrainTimeout = Duration(30 * time.Second)
	DefaultKeepPrevious = Duration(5 * time.Minute)
)

// NewLoadBalancer returns a load balancer with every default filled in.
func NewLoadBalancer(name string) LoadBalancer {
	return LoadBalancer{
		Name:     name,
		Listen:   DefaultListen,
		Timeouts: ListenerTimeouts{ReadHeader: DefaultReadHeaderTimeout, Idle: DefaultIdleTimeout, Send: DefaultSendTimeout},
		Limits:   Limits{RequestBody: DefaultMaxRequestBody, Header: DefaultMaxHeader},
	}
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
			Consecutive5xx:     DefaultConsecutive5xx,
		},
		Timeouts:    UpstreamTimeouts{Connect: DefaultConnectTimeout, ResponseHeader: DefaultResponseHeaderTimeout},
		Maintenance: Maintenance{MaxPause: DefaultMaxPause},
		Deploy: Deploy{
			Strategy:     DefaultStrategy,
			ReadyTimeout: DefaultReadyTimeout,
			DrainTimeout: DefaultDrainTimeout,
			KeepPrevious: DefaultKeepPrevious,

			AutoPromote:      true,
			ProgressDeadline: DefaultProgressDeadline,
			HookTimeout:      DefaultHookTimeout,
		},
		RevisionHistoryLimit: DefaultRevisionHistoryLimit,
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

// NewPreview returns a preview block with its defaults: the header
// X-Teal-Slot, no cookie, no listener.
func NewPreview() *Preview { return &Preview{Header: DefaultPreviewHeader} }

// NewSticky returns a sticky block with its defaults: a session cookie
// named after the service.
func NewSticky(service string) *Sticky { return &Sticky{Cookie: "teal_" + service} }

// NewAnalysis returns an analysis block with its defaults: at most 1% of
// errors, latency not judged, 100 requests at least, judged every 5s.
func NewAnalysis() *Analysis {
	return &Analysis{MaxErrorRate: DefaultMaxErrorRate, MinRequests: DefaultMinRequests, Interval: DefaultAnalysisInterval}
}
