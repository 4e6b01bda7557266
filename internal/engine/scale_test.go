package engine_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/teal-deploy/teal/internal/engine"
	"github.com/teal-deploy/teal/internal/proxy"
	teal "github.com/teal-deploy/teal/internal/runtime"
	"github.com/teal-deploy/teal/internal/spec"
	"github.com/teal-deploy/teal/internal/state"
)

// inproc is a driver whose instances are HTTP servers on real loopback
// sockets in this process: a thousand services need no thousand processes
// to measure what the server itself holds for them. (What the instances
// hold is counted too, so the numbers are an upper bound.)
type inproc struct{}

type inprocInstance struct {
	id      string
	srv     *http.Server
	addr    string
	started time.Time
	done    chan struct{}
	once    sync.Once
}

func (inproc) Start(_ context.Context, s teal.InstanceSpec) (teal.Instance, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	in := &inprocInstance{id: s.ID, addr: ln.Addr().String(), started: time.Now(), done: make(chan struct{})}
	in.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })}
	go in.srv.Serve(ln)
	return in, nil
}

func (inproc) Adopt(context.Context, teal.InstanceSpec, string) (teal.Instance, error) {
	return nil, teal.ErrGone
}

func (i *inprocInstance) ID() string            { return i.id }
func (i *inprocInstance) Addr() string          { return i.addr }
func (i *inprocInstance) Started() time.Time    { return i.started }
func (i *inprocInstance) Done() <-chan struct{} { return i.done }
func (i *inprocInstance) Exit() teal.ExitStatus { return teal.ExitStatus{Stopped: true} }
func (i *inprocInstance) LogTail(int) []string  { return nil }
func (i *inprocInstance) Handle() string        { return "" }
func (i *inprocInstance) Stop(context.Context, time.Duration) error {
	i.once.Do(func() { i.srv.Close(); close(i.done) })
	return nil
}

// What the server holds with 1,000 services of one instance each, ten
// routes each, live behind one load balancer: its heap after a collection
// and its resident memory, with the instances (in this process) included.
// `go test -run '^$' -bench Server1000Services -benchtime 1x ./internal/engine`
func BenchmarkServer1000Services(b *testing.B) {
	services, routes := 1000, 10
	if n, err := strconv.Atoi(os.Getenv("TEAL_BENCH_SERVICES")); err == nil {
		services = n
	}
	for range b.N {
		dir := b.TempDir()
		store, err := state.Open(filepath.Join(dir, "state.db"))
		if err != nil {
			b.Fatal(err)
		}
		log := slog.New(slog.DiscardHandler)
		px := proxy.New(proxy.Options{Log: log})
		eng := engine.New(engine.Config{Store: store, Driver: inproc{}, Switch: px, Log: log})
		if err := eng.Recover(context.Background()); err != nil {
			b.Fatal(err)
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		lb := spec.NewLoadBalancer("public")
		lb.Listen = ln.Addr().String()
		ln.Close()
		d := spec.Desired{LoadBalancers: []spec.LoadBalancer{lb}}
		for i := range services {
			s := spec.NewService(fmt.Sprintf("svc%04d", i))
			s.Process = &spec.Process{Command: []string{"/bin/true"}, Dir: dir}
			s.HealthCheck.Interval = spec.Duration(time.Second)
			s.HealthCheck.HealthyThreshold = 1
			for r := range routes {
				s.Routes = append(s.Routes, spec.Route{LoadBalancer: "public", Host: s.Name + ".example", Path: "/r" + strconv.Itoa(r) + "/*"})
			}
			d.Services = append(d.Services, s)
		}
		began := time.Now()
		_, res, err := eng.Apply(d, engine.ApplyOptions{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range res {
			if r.Error != "" {
				b.Fatalf("%s: %s", r.Address, r.Error)
			}
		}
		applied := time.Since(began)
		req, _ := http.NewRequest("GET", "http://"+lb.Listen+"/r3/x", nil)
		req.Host = fmt.Sprintf("svc%04d.example", services-1)
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
			b.Fatalf("through the load balancer: %v %v", resp, err)
		}
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
		b.ReportMetric(rssMiB(), "rss-MiB")
		b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
		b.ReportMetric(applied.Seconds(), "apply-s")
		px.Shutdown(context.Background())
		eng.Shutdown(context.Background())
		store.Close()
	}
}

func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return float64(kb) / 1024
		}
	}
	return 0
}
