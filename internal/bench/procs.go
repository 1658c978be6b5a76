package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/worker"
)

// Worker processes: with Config.Procs, the Drain and Concurrent scenarios
// work their jobs in processes of their own, all bound to the same
// consumers, as users scale out. The parent enqueues; each child runs
// ServeWorker and talks to the parent over its standard input and output,
// one line per message:
//
//	child:  ready                      connected, the side built
//	parent: go                         start working
//	child:  done <jobs> <redelivered>  progress, at most every 5ms
//	parent: stop                       the parent saw every job worked
//	child:  report <JSON>              its figures since go (childReport)
//
// A child that fails writes "error <text>" and exits.

// childReport is what a worker process measured between go and stop.
type childReport struct {
	Jobs        int64  `json:"jobs"`
	Redelivered int64  `json:"redelivered"`
	CPUNanos    int64  `json:"cpu_ns"`
	Allocs      uint64 `json:"allocs"`
	PeakRSS     uint64 `json:"peak_rss"`
	// LastNanos is when its last job was worked (Unix nanoseconds; zero if
	// none), so that the parent times the phase to the last job rather
	// than to its reading of the progress lines.
	LastNanos int64 `json:"last_ns"`
}

// progressEvery is how often a worker process reports its progress.
const progressEvery = 5 * time.Millisecond

// ServeWorker is a worker process of Config.Procs: it works jobs on side
// from queues (in the namespace cfg.Topology, which the parent created)
// when in says "go", reports progress and, when in says "stop" or ends,
// its figures on out. cfg must be the parent's Config; connect connects
// to the parent's server.
func ServeWorker(ctx context.Context, connect func() (*nats.Conn, error), cfg Config, side Side, queues []string, in io.Reader, out io.Writer) (err error) {
	cfg = cfg.withDefaults()
	cfg.Procs, cfg.Spawn, cfg.Progress, cfg.ProfileDir, cfg.Timer = 0, nil, nil, "", nil
	if err := cfg.validate(); err != nil {
		return err
	}
	if len(queues) == 0 {
		return errors.New("a worker process needs at least one queue")
	}
	var mu sync.Mutex // out is written from the progress loop and here
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, format+"\n", a...)
	}
	defer func() {
		if err != nil {
			say("error %s", strings.ReplaceAll(err.Error(), "\n", " "))
		}
	}()
	nc, err := connect()
	if err != nil {
		return err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return err
	}
	r := &run{
		Runner: &Runner{connect: connect, cfg: cfg, admin: nc, js: js},
		side:   side, queues: queues, failed: make(chan struct{}), finished: make(chan struct{}),
		target: -1, recordLast: true,
	}
	defer nc.Close()
	defer func() {
		for _, c := range []*nats.Conn{r.prod, r.work} {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err := r.open(); err != nil {
		return err
	}
	var impl implementation
	switch side {
	case Jetjobs:
		if impl, err = newFramework(r); err != nil {
			return err
		}
	case Raw:
		impl = newRawSide(r)
	default:
		return fmt.Errorf("unknown side %q", side)
	}

	// The parent's lines; closed when in ends (the parent went away).
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	next := func() (string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return "", io.EOF
			}
			return l, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}

	say("ready")
	if l, err := next(); err != nil || l != "go" {
		return fmt.Errorf("worker process: want go from the parent, got %q (%v)", l, err)
	}
	resetPeakRSS()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	if err := impl.start(ctx); err != nil {
		return errors.Join(err, impl.stop())
	}
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	var reported int64 = -1
	stopped := false
	for !stopped {
		select {
		case <-t.C:
			if d := r.done.Load(); d != reported {
				reported = d
				say("done %d %d", d, r.redelivered.Load())
			}
		case l, ok := <-lines:
			if ok && l != "stop" {
				return errors.Join(fmt.Errorf("worker process: unexpected %q from the parent", l), impl.stop())
			}
			stopped = true
		case <-r.failed:
			return errors.Join(*r.failure.Load(), impl.stop())
		case <-ctx.Done():
			return errors.Join(ctx.Err(), impl.stop())
		}
	}
	rep := childReport{
		Jobs: r.done.Load(), Redelivered: r.redelivered.Load(),
		CPUNanos: int64(cpuTime() - cpu0), PeakRSS: peakRSS(), LastNanos: r.last.Load(),
	}
	runtime.ReadMemStats(&after)
	rep.Allocs = after.Mallocs - before.Mallocs
	if err := impl.stop(); err != nil {
		return err
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	say("report %s", b)
	return nil
}

// procs runs a side's workers in Config.Procs processes of their own: it
// enqueues with the side in this process (embedded) and starts, counts and
// stops the children.
type procs struct {
	implementation
	r        *run
	children []*child
	goAt     time.Time
	wg       sync.WaitGroup
	reports  []childReport
}

// child is one worker process.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	report chan childReport
	exited chan error // the process's exit, after its output ended
	// done and redel are the child's last progress line, so that the
	// parent counts what changed since.
	done, redel int64
}

func newProcs(r *run, local implementation) *procs {
	return &procs{implementation: local, r: r}
}

// prepare starts the worker processes and waits until each is ready, so
// that starting them is not timed.
func (p *procs) prepare(ctx context.Context) error {
	if err := p.createConsumers(ctx); err != nil {
		return err
	}
	var mu sync.Mutex
	for i := range p.r.cfg.Procs {
		cmd := p.r.cfg.Spawn(p.r.side, p.r.queues)
		if cmd == nil {
			return fmt.Errorf("Spawn returned no command for worker process %d", i)
		}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start worker process %d: %w", i, err)
		}
		c := &child{cmd: cmd, stdin: stdin, ready: make(chan struct{}), report: make(chan childReport, 1), exited: make(chan error, 1)}
		p.children = append(p.children, c)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.read(i, c, stdout, &mu)
		}()
	}
	for i, c := range p.children {
		select {
		case <-c.ready:
		case err := <-c.exited:
			c.exited <- err
			return fmt.Errorf("worker process %d ended before it was ready: %v", i, err)
		case <-p.r.failed:
			return *p.r.failure.Load()
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// createConsumers creates the queues' consumers, as both sides' workers
// would, and waits until each has a leader: processes that start at once
// against a cluster otherwise find a consumer one of them just created
// without a leader yet, and their first pull requests fail (503) and back
// off inside the timed phase.
func (p *procs) createConsumers(ctx context.Context) error {
	t := p.r.cfg.Topology
	for _, q := range p.r.queues {
		cfg := worker.ConsumerConfig(t, q, 30*time.Second, 100, p.r.cfg.Limit)
		c, err := p.r.js.CreateOrUpdateConsumer(ctx, t.Stream, cfg)
		if err != nil {
			return fmt.Errorf("create consumer %s: %w", q, err)
		}
		deadline := time.Now().Add(stallLimit)
		for {
			info, err := c.Info(ctx)
			if err == nil && (info.Cluster == nil || info.Cluster.Leader != "") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("consumer %s has no leader after %s (last error: %v)", q, stallLimit, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	return nil
}

// read follows child i's output until it ends.
func (p *procs) read(i int, c *child, stdout io.Reader, mu *sync.Mutex) {
	sc := bufio.NewScanner(stdout)
	var failure error
	for sc.Scan() {
		verb, rest, _ := strings.Cut(sc.Text(), " ")
		switch verb {
		case "ready":
			close(c.ready)
		case "done":
			var jobs, redel int64
			if _, err := fmt.Sscan(rest, &jobs, &redel); err != nil {
				failure = fmt.Errorf("worker process %d: bad progress %q", i, rest)
				continue
			}
			mu.Lock()
			delta := jobs - c.done
			p.r.redelivered.Add(redel - c.redel)
			c.done, c.redel = jobs, redel
			mu.Unlock()
			p.r.workedN(delta)
		case "report":
			var rep childReport
			if err := json.Unmarshal([]byte(rest), &rep); err != nil {
				failure = fmt.Errorf("worker process %d: bad report: %w", i, err)
				continue
			}
			c.report <- rep
		case "error":
			failure = fmt.Errorf("worker process %d: %s", i, rest)
		default:
			failure = fmt.Errorf("worker process %d: unexpected output %q", i, sc.Text())
		}
		if failure != nil {
			p.r.fail(failure)
		}
	}
	err := c.cmd.Wait()
	if failure == nil && err != nil {
		p.r.fail(fmt.Errorf("worker process %d: %w", i, err))
	}
	c.exited <- errors.Join(failure, err)
}

// start tells every worker process to start working.
func (p *procs) start(context.Context) error {
	if len(p.children) != p.r.cfg.Procs {
		return errors.New("worker processes not prepared")
	}
	p.goAt = time.Now()
	for i, c := range p.children {
		if _, err := io.WriteString(c.stdin, "go\n"); err != nil {
			return fmt.Errorf("worker process %d: %w", i, err)
		}
	}
	return nil
}

// stop tells every worker process to stop, collects their reports and
// waits for them to exit.
func (p *procs) stop() error {
	var errs []error
	for _, c := range p.children {
		_, _ = io.WriteString(c.stdin, "stop\n")
		_ = c.stdin.Close()
	}
	for i, c := range p.children {
		select {
		case rep := <-c.report:
			p.reports = append(p.reports, rep)
		case err := <-c.exited:
			c.exited <- err
			// The reader hands the report over before the exit: both may
			// be ready here.
			select {
			case rep := <-c.report:
				p.reports = append(p.reports, rep)
			default:
				errs = append(errs, fmt.Errorf("worker process %d ended without a report: %v", i, err))
			}
		case <-time.After(stallLimit):
			_ = c.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("worker process %d did not report within %s", i, stallLimit))
		}
	}
	for i, c := range p.children {
		select {
		case err := <-c.exited:
			if err != nil {
				errs = append(errs, fmt.Errorf("worker process %d: %w", i, err))
			}
		case <-time.After(stallLimit):
			_ = c.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("worker process %d did not exit within %s", i, stallLimit))
		}
	}
	p.wg.Wait()
	p.children = nil
	return errors.Join(errs...)
}

// kill ends worker processes left running by a failed run.
func (p *procs) kill() {
	for _, c := range p.children {
		_ = c.stdin.Close()
		_ = c.cmd.Process.Kill()
	}
	p.wg.Wait()
	p.children = nil
}

// adjust adds the worker processes' figures to m, measured in this
// process (the producer, in Concurrent): their CPU time, allocations and
// peak resident sets, and the time to their last job.
func (p *procs) adjust(m *Measurement) {
	var last int64
	for _, rep := range p.reports {
		m.CPU += time.Duration(rep.CPUNanos)
		m.Allocs += rep.Allocs
		m.PeakRSS += rep.PeakRSS
		last = max(last, rep.LastNanos)
	}
	if last > 0 {
		if e := time.Duration(last - p.goAt.UnixNano()); e > 0 {
			m.Elapsed = e
		}
	}
	m.Procs = len(p.reports)
	m.Redelivered = int(p.r.redelivered.Load())
}
