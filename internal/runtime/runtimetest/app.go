// Package runtimetest is the conformance suite every runtime.Driver must
// pass, and the scriptable instance it runs: one small program whose
// behaviour (serve, exit, ignore SIGTERM, print) is set by environment
// variables, so the same tests exercise every driver.
package runtimetest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// The environment variables that script the instance program.
const (
	EnvApp        = "TEAL_TESTAPP"            // "1" turns a test binary into the instance program
	EnvExitAfter  = "TEAL_TESTAPP_EXIT_AFTER" // a duration; then exit with EnvExitCode
	EnvExitCode   = "TEAL_TESTAPP_EXIT_CODE"
	EnvIgnoreTerm = "TEAL_TESTAPP_IGNORE_TERM" // "1": SIGTERM does not stop it
	EnvSay        = "TEAL_TESTAPP_SAY"         // printed to stdout at start
	EnvUnhealthy  = "TEAL_TESTAPP_UNHEALTHY"   // "1": GET /health answers 503
	EnvVersion    = "TEAL_TESTAPP_VERSION"     // sent back in X-Version
	EnvHost       = "TEAL_TESTAPP_HOST"        // the address to listen on; 127.0.0.1 by default
	EnvEatMemory  = "TEAL_TESTAPP_EAT_MEMORY"  // a number of MiB to allocate and touch at start
	EnvFail       = "TEAL_TESTAPP_FAIL"        // "1": every request but /health gets 500
	EnvLog        = "TEAL_TESTAPP_LOG"         // "1": print each request but health checks
	EnvStartDelay = "TEAL_TESTAPP_START_DELAY" // a duration to wait before listening
	EnvPort       = "TEAL_TESTAPP_PORT"        // a port to listen on instead of $PORT, as an app with a fixed port would
)

// Behaviour scripts one instance of the test program.
type Behaviour struct {
	ExitAfter  time.Duration // 0: run until stopped
	ExitCode   int
	IgnoreTerm bool
	Say        string
	Unhealthy  bool          // fail every health check
	Version    string        // answer with this version
	EatMemory  int           // MiB to allocate at start, to run out of a memory limit
	Fail       bool          // answer 500 to everything but the health check
	Log        bool          // print each request but health checks
	StartDelay time.Duration // wait this long before listening
	Port       int           // listen here, not on $PORT
}

// Env returns the environment that makes the program behave as b.
func (b Behaviour) Env() map[string]string {
	env := map[string]string{EnvApp: "1"}
	if b.ExitAfter > 0 {
		env[EnvExitAfter] = b.ExitAfter.String()
		env[EnvExitCode] = strconv.Itoa(b.ExitCode)
	}
	if b.IgnoreTerm {
		env[EnvIgnoreTerm] = "1"
	}
	if b.Say != "" {
		env[EnvSay] = b.Say
	}
	if b.Unhealthy {
		env[EnvUnhealthy] = "1"
	}
	if b.Version != "" {
		env[EnvVersion] = b.Version
	}
	if b.EatMemory > 0 {
		env[EnvEatMemory] = strconv.Itoa(b.EatMemory)
	}
	if b.Fail {
		env[EnvFail] = "1"
	}
	if b.StartDelay > 0 {
		env[EnvStartDelay] = b.StartDelay.String()
	}
	if b.Port > 0 {
		env[EnvPort] = strconv.Itoa(b.Port)
	}
	if b.Log {
		env[EnvLog] = "1"
	}
	return env
}

// MaybeRunApp runs the instance program and exits when the environment
// asks for it; a driver's TestMain calls it first, so the test binary
// itself is the program and nothing has to be built.
func MaybeRunApp() {
	if os.Getenv(EnvApp) != "1" {
		return
	}
	os.Exit(RunApp())
}

// RunApp runs the instance program as the environment scripts it and
// returns its exit code. The container driver's tests run it as the only
// program of an image built FROM scratch (see testapp/).
func RunApp() int {
	if s := os.Getenv(EnvSay); s != "" {
		fmt.Println(s)
	}
	if mib, _ := strconv.Atoi(os.Getenv(EnvEatMemory)); mib > 0 {
		defer runtime.KeepAlive(eat(mib))
	}
	host := os.Getenv(EnvHost)
	if host == "" {
		host = "127.0.0.1"
	}
	if d, err := time.ParseDuration(os.Getenv(EnvStartDelay)); err == nil {
		time.Sleep(d)
	}
	port := os.Getenv("PORT")
	if p := os.Getenv(EnvPort); p != "" {
		port = p
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			echoWebSocket(w, r)
			return
		}
		if r.URL.Path == "/crash" { // a crash on demand, once answered
			fmt.Println("crashing on request")
			w.WriteHeader(http.StatusAccepted)
			go func() { time.Sleep(10 * time.Millisecond); os.Exit(3) }()
			return
		}
		if r.URL.Path == "/health" && os.Getenv(EnvUnhealthy) == "1" {
			http.Error(w, "unhealthy on purpose", http.StatusServiceUnavailable)
			return
		}
		if d, err := time.ParseDuration(r.URL.Query().Get("sleep")); err == nil {
			time.Sleep(d)
		}
		if r.URL.Path != "/health" && os.Getenv(EnvLog) == "1" {
			fmt.Printf("%s %s\n", r.Method, r.URL.RequestURI())
		}
		w.Header().Set("X-Version", os.Getenv(EnvVersion))
		w.Header().Set("X-Instance", os.Getenv("TEAL_INSTANCE"))
		if r.URL.Path != "/health" && os.Getenv(EnvFail) == "1" {
			http.Error(w, "failing on purpose", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "instance %s\n", os.Getenv("TEAL_INSTANCE"))
	}))

	sigs := make(chan os.Signal, 1)
	if os.Getenv(EnvIgnoreTerm) == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	var exitAfter <-chan time.Time
	if d, err := time.ParseDuration(os.Getenv(EnvExitAfter)); err == nil {
		exitAfter = time.After(d)
	}
	select {
	case <-sigs:
		fmt.Println("stopping on SIGTERM")
		return 0
	case <-exitAfter:
		code, _ := strconv.Atoi(os.Getenv(EnvExitCode))
		fmt.Println("exiting with", code)
		return code
	case <-context.Background().Done():
		return 0
	}
}

// eat allocates mib MiB and writes to every page, so that the memory is
// really used and counts against a limit.
func eat(mib int) [][]byte {
	fmt.Printf("allocating %d MiB\n", mib)
	var eaten [][]byte
	for range mib {
		b := make([]byte, 1<<20)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
		eaten = append(eaten, b)
	}
	fmt.Printf("allocated %d MiB\n", mib)
	return eaten
}

// echoWebSocket answers each message with the instance's name and the
// message, until the connection closes.
func echoWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, append([]byte(os.Getenv("TEAL_INSTANCE")+": "), msg...)); err != nil {
			return
		}
	}
}
