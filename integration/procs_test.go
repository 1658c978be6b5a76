package integration

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is a child process whose stdout and stderr go to a log file. It is
// killed at the end of the test if it still runs, and its log's tail is
// printed if the test failed.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
}

// startProc starts path with args; env is added to the test's environment.
func startProc(tb testing.TB, name, logPath string, env []string, path string, args ...string) *proc {
	tb.Helper()
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	// Files, not writers: the child writes to them directly and no copying
	// goroutine outlives it.
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT) // in case it is paused
			p.kill()
		}
		if tb.Failed() || os.Getenv("JETJOBS_TEST_LOG") != "" {
			tb.Logf("--- tail of %s (%s):\n%s", p.name, p.logPath, tail(p.logPath, 25))
		}
	})
	return p
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) signal(sig syscall.Signal) {
	_ = p.cmd.Process.Signal(sig)
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.signal(syscall.SIGKILL)
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// code (-1 if a signal ended it); ok is false if it did not exit in time.
func (p *proc) wait(timeout time.Duration) (code int, ok bool) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode(), true
	case <-t.C:
		return 0, false
	}
}

// logContains reports whether the process's log holds s.
func (p *proc) logContains(s string) bool {
	b, _ := os.ReadFile(p.logPath)
	return strings.Contains(string(b), s)
}

func (p *proc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePorts returns n distinct free loopback ports. They are free when
// returned; a port can in principle be taken by someone else before use.
func freePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	lns := make([]net.Listener, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		lns[i], ports[i] = ln, ln.Addr().(*net.TCPAddr).Port
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

// natsServer is a real nats-server process, built from the module version
// go.mod pins, with JetStream on a store that survives its restarts.
type natsServer struct {
	tb       testing.TB
	name     string
	dir      string
	port     int
	httpPort int
	conf     string
	starts   int
	proc     *proc
	host     string // the address it listens on: 127.0.0.1 unless in a network namespace
	netns    string // the network namespace it runs in ("" the test's own)
}

// natsServerConfig describes one server; cluster fields are empty for a
// single server.
type natsServerConfig struct {
	name        string
	port        int
	httpPort    int
	clusterPort int
	routes      []int  // cluster ports of every node, this one included
	extra       string // more configuration, such as sync_interval
	// host is the address the server listens on and routes go to (""
	// is 127.0.0.1); routeHosts, when set, are the hosts of routes, one
	// per entry of routes.
	host       string
	routeHosts []string
	netns      string // run the server in this network namespace
	jetstream  string // more lines of the jetstream block, such as sync_interval
	// maxFileStore is the server's max_file_store: "" is 1GB, "disk"
	// leaves it out, so the server takes 75% of its store's free disk.
	maxFileStore string
}

func newNATSServer(tb testing.TB, cfg natsServerConfig) *natsServer {
	tb.Helper()
	if cfg.port == 0 {
		ports := freePorts(tb, 2)
		cfg.port, cfg.httpPort = ports[0], ports[1]
	}
	if cfg.name == "" {
		cfg.name = "n1"
	}
	if cfg.host == "" {
		cfg.host = "127.0.0.1"
	}
	dir := filepath.Join(tb.TempDir(), cfg.name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: %s:%d\nhttp: %s:%d\n", cfg.name, cfg.host, cfg.port, cfg.host, cfg.httpPort)
	maxFile := "  max_file_store: 1GB\n"
	switch cfg.maxFileStore {
	case "":
	case "disk":
		maxFile = ""
	default:
		maxFile = "  max_file_store: " + cfg.maxFileStore + "\n"
	}
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n%s  max_memory_store: 64MB\n%s}\n", filepath.Join(dir, "store"), maxFile, cfg.jetstream)
	if cfg.clusterPort != 0 {
		var routes []string
		for i, p := range cfg.routes {
			host := cfg.host
			if cfg.routeHosts != nil {
				host = cfg.routeHosts[i]
			}
			routes = append(routes, fmt.Sprintf("nats-route://%s:%d", host, p))
		}
		fmt.Fprintf(&b, "cluster {\n  name: jetjobs-test\n  listen: %s:%d\n  routes: [%s]\n}\n", cfg.host, cfg.clusterPort, strings.Join(routes, ", "))
	}
	b.WriteString(cfg.extra)
	conf := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return &natsServer{tb: tb, name: cfg.name, dir: dir, port: cfg.port, httpPort: cfg.httpPort, conf: conf, host: cfg.host, netns: cfg.netns}
}

func (s *natsServer) url() string { return fmt.Sprintf("nats://%s:%d", s.host, s.port) }

// start starts the server process and waits until it serves clients with
// JetStream enabled.
func (s *natsServer) start() {
	s.tb.Helper()
	s.starts++
	logPath := filepath.Join(s.dir, fmt.Sprintf("server-%d.log", s.starts))
	if s.netns != "" {
		// ip netns exec execs the server: the process is the server's.
		s.proc = startProc(s.tb, "nats-server "+s.name, logPath, nil, "ip", "netns", "exec", s.netns, bin.natsServer, "-c", s.conf)
	} else {
		s.proc = startProc(s.tb, "nats-server "+s.name, logPath, nil, bin.natsServer, "-c", s.conf)
	}
	waitFor(s.tb, 20*time.Second, 20*time.Millisecond, func() bool {
		return !s.proc.exited() && s.healthy("js-enabled-only=true")
	}, "nats-server %s ready", s.name)
}

// healthy asks the server's /healthz with query.
func (s *natsServer) healthy(query string) bool {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/healthz?%s", s.host, s.httpPort, query))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// kill ends the server with SIGKILL: no shutdown, no flush.
func (s *natsServer) kill() { s.proc.kill() }

func (s *natsServer) running() bool { return s.proc != nil && !s.proc.exited() }

// pause and resume stop and continue the process (SIGSTOP/SIGCONT): its
// sockets stay open but it answers nothing, as behind a network cut.
func (s *natsServer) pause()  { s.proc.signal(syscall.SIGSTOP) }
func (s *natsServer) resume() { s.proc.signal(syscall.SIGCONT) }

// waitFor polls cond every interval until it holds, failing the test after
// timeout.
func waitFor(tb testing.TB, timeout, interval time.Duration, cond func() bool, msg string, args ...any) {
	tb.Helper()
	if !poll(timeout, interval, cond) {
		tb.Fatalf("not within %s: "+msg, append([]any{timeout}, args...)...)
	}
}

// poll calls cond every interval until it returns true (then poll does) or
// timeout passes (then it returns false).
func poll(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(interval)
	defer t.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-t.C
	}
	return true
}

// workerProc is a test worker process (internal/testworker).
type workerProc struct {
	*proc
	name string
}

// workerOpts are the test worker's flags beyond server, name and record.
type workerOpts []string

// startWorker starts a test worker named name recording into dir and waits
// until its pool runs.
func startWorker(tb testing.TB, dir, name, servers string, opts workerOpts) *workerProc {
	tb.Helper()
	w := startWorkerNoWait(tb, dir, name, servers, opts)
	waitFor(tb, 30*time.Second, 20*time.Millisecond, func() bool {
		if w.exited() {
			tb.Fatalf("worker %s exited before it was ready:\n%s", name, tail(w.logPath, 20))
		}
		return w.logContains("ready\n")
	}, "worker %s ready", name)
	return w
}

func startWorkerNoWait(tb testing.TB, dir, name, servers string, opts workerOpts) *workerProc {
	tb.Helper()
	args := append([]string{"-server", servers, "-name", name, "-record", filepath.Join(dir, name+".rec")}, opts...)
	p := startProc(tb, "worker "+name, filepath.Join(dir, name+".log"), nil, bin.testworker, args...)
	return &workerProc{proc: p, name: name}
}

// proxy forwards TCP connections to target until cut: then it closes every
// connection and refuses new ones (accepts and closes them) until healed.
// With a delay it holds every chunk of bytes that long in each direction,
// in order: a link with that one-way latency (the kernel here has no
// netem; the latency is added above TCP, so TCP's own timers see a fast
// link).
type proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startProxy(tb testing.TB, target string) *proxy {
	return startDelayProxy(tb, "127.0.0.1:0", target, 0)
}

// startDelayProxy starts a proxy listening on listen whose link has the
// one-way latency delay.
func startDelayProxy(tb testing.TB, listen, target string, delay time.Duration) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies src to dst, each chunk p.delay after it was read.
func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	if p.delay == 0 {
		_, _ = bufio.NewReader(src).WriteTo(dst)
	} else {
		p.delayed(dst, src)
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) delayed(dst, src net.Conn) {
	type chunk struct {
		b   []byte
		due time.Time
	}
	chunks := make(chan chunk, 4096)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- chunk{buf[:n], time.Now().Add(p.delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	broken := false
	for c := range chunks {
		if broken {
			continue // drain, so the reader ends
		}
		if d := time.Until(c.due); d > 0 {
			t.Reset(d)
			<-t.C
		}
		if _, err := dst.Write(c.b); err != nil {
			broken = true
			src.Close()
		}
	}
}

// setCut cuts (true) or heals (false) the link.
func (p *proxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.setCut(true)
	p.wg.Wait()
}

// testLogger returns a logger for in-process pools: silent unless
// JETJOBS_TEST_LOG is set.
func testLogger(tb testing.TB) *slog.Logger {
	if os.Getenv("JETJOBS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
