// Command tealproxy runs teal's load balancer (internal/proxy) alone, in
// front of a blue and a green backend, for the benchmark harness: one load
// balancer, one service "web" with a catch-all route, and a control
// listener whose POST /switch?to=green moves all traffic to the other slot
// the way a blue-green deployment does. It answers with how long the
// switch took to publish, in nanoseconds; the next request sees it.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"syscall"
	"time"

	"github.com/teal-deploy/teal/internal/proxy"
	"github.com/teal-deploy/teal/internal/spec"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

// addPools gives a service one target in each slot, blue live; the
// targets are taken as healthy (there are no health checks here).
func addPools(p *proxy.Proxy, svc spec.Service, blue, green string) {
	for slot, addr := range map[spec.Slot]string{spec.Blue: blue, spec.Green: green} {
		t := p.NewTarget(proxy.TargetOptions{ID: svc.Name + "-" + string(slot), Addr: addr, Service: svc.Name, Slot: slot,
			Timeouts: svc.Timeouts, Consecutive5xx: spec.DefaultConsecutive5xx})
		t.Assume(proxy.Healthy)
		p.SetPool(svc.Name, slot, []*proxy.Target{t})
	}
	p.SetWeights(svc.Name, proxy.Weights{spec.Blue: 100})
}

func run(args []string) error {
	fs := flag.NewFlagSet("tealproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "the load balancer's address")
	control := fs.String("control", "127.0.0.1:0", "the control listener's address")
	blue := fs.String("blue", "", "the blue backend's host:port")
	green := fs.String("green", "", "the green backend's host:port")
	services := fs.Int("services", 1, "services in the routing table; those past the first get 10 routes each on hosts of their own, and the same two backends")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *blue == "" || *green == "" {
		return fmt.Errorf("-blue and -green are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	p := proxy.New(proxy.Options{})
	lb := spec.NewLoadBalancer("public")
	lb.Listen = *listen
	if err := p.SetLoadBalancers(ctx, []spec.LoadBalancer{lb}); err != nil {
		return err
	}
	for i := 1; i < *services; i++ {
		svc := spec.NewService(fmt.Sprintf("svc%04d", i))
		for j := range 10 {
			svc.Routes = append(svc.Routes, spec.Route{LoadBalancer: "public",
				Host: fmt.Sprintf("svc%04d.example.test", i), Path: fmt.Sprintf("/p%d/*", j)})
		}
		if err := p.SetService(svc); err != nil {
			return err
		}
		addPools(p, svc, *blue, *green)
	}
	web := spec.NewService("web")
	web.Routes = []spec.Route{{LoadBalancer: "public", Path: "/*"}}
	if err := p.SetService(web); err != nil {
		return err
	}
	addPools(p, web, *blue, *green)

	cl, err := net.Listen("tcp", *control)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /switch", func(w http.ResponseWriter, r *http.Request) {
		to := spec.Slot(r.URL.Query().Get("to"))
		if to != spec.Blue && to != spec.Green {
			http.Error(w, "to=blue or to=green", http.StatusBadRequest)
			return
		}
		start := time.Now()
		p.SetWeights("web", proxy.Weights{to: 100})
		fmt.Fprintln(w, strconv.FormatInt(time.Since(start).Nanoseconds(), 10))
	})
	go http.Serve(cl, mux)
	// The harness reads both addresses from the first line.
	fmt.Println(p.Addr("public"), cl.Addr().String())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	p.Shutdown(sctx)
	return nil
}
