package worker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// recordingLog is a slog handler that records lines as "LEVEL msg".
type recordingLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *recordingLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *recordingLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message)
	return nil
}
func (l *recordingLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *recordingLog) WithGroup(string) slog.Handler      { return l }
func (l *recordingLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
func (l *recordingLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// A pool whose work stream is gone (deleted, or JetStream unavailable for
// it) cannot pull a job: Ready says so, though the connection is up.
func TestReadyReflectsConsuming(t *testing.T) {
	e := newEnv(t)
	rl := &recordingLog{}
	p := e.pool(worker.Config{Logger: slog.New(rl)}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, e.js.DeleteStream(ctx, "JOBS"))
	eventually(t, func() bool { return rl.has("pulling jobs failed") }, "pulls fail without the work stream")
	eventually(t, func() bool {
		err := p.Ready()
		return errors.Is(err, worker.ErrNotReady) && strings.Contains(err.Error(), "queue default: pulling jobs has failed")
	}, "Ready reports the queue that cannot pull")
}

// Ready answers at once while a Start is in progress (here one that waits
// for a server that is down): a readiness probe must not hang.
func TestReadyDoesNotBlockDuringStart(t *testing.T) {
	e := newEnv(t)
	p, err := worker.New(e.js, worker.Config{Logger: testLogger()})
	must(t, err)
	must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error { return nil }))
	e.srv.Shutdown() // the connection reconnects; Start's requests wait
	startCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- p.Start(startCtx) }()
	// Probe as a kubelet would, every 10 ms while Start runs.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var slowest time.Duration
	var serr error
probe:
	for {
		select {
		case serr = <-started:
			break probe
		case <-tick.C:
			begin := time.Now()
			if err := p.Ready(); err == nil {
				t.Error("Ready() = nil during Start")
			}
			slowest = max(slowest, time.Since(begin))
		}
	}
	if serr == nil {
		ctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = p.Stop(ctx)
	}
	if slowest > 100*time.Millisecond {
		t.Errorf("Ready() took up to %s during Start: it waited for Start's I/O", slowest.Round(time.Millisecond))
	}
}

// A job canceled by ID whose handler returns an error of its own (not the
// context's) is dead-lettered as canceled, and the default Logging
// middleware logs it as canceled, not as a failure that will be retried.
func TestCanceledJobLoggedAsCanceled(t *testing.T) {
	e := newEnv(t)
	rl := &recordingLog{}
	running := make(chan string, 1)
	dead := make(chan worker.Event, 1)
	e.pool(worker.Config{Logger: slog.New(rl), Hooks: worker.Hooks{OnDeadLetter: func(ev worker.Event) { dead <- ev }}},
		func(p *worker.Pool) {
			must(t, worker.Handle(p, "report", func(ctx context.Context, j *job.Job[struct{}]) error {
				running <- j.ID
				<-ctx.Done()
				return errors.New("query aborted") // as a database driver reports it
			}))
		})
	e.enqueue("report", nil)
	var id string
	select {
	case id = <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not start")
	}
	if _, err := e.client.Cancel(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-dead:
		if ev.Reason != job.ReasonCanceled {
			t.Fatalf("dead-lettered with reason %s, want canceled", ev.Reason)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("canceled job was not dead-lettered")
	}
	if !rl.has("INFO job canceled") || rl.has("job failed, will retry") {
		t.Errorf("job dead-lettered as canceled, but logged:\n%s", rl)
	}
}

// Shutdown interrupts a job on its last attempt whose handler returns an
// error of its own: the pool hands it back (interrupted, not a failure), and
// Logging says so instead of "job failed on its last attempt".
func TestInterruptedJobLoggedAsInterrupted(t *testing.T) {
	e := newEnv(t)
	rl := &recordingLog{}
	running := make(chan struct{}, 1)
	var (
		mu       sync.Mutex
		outcomes []string
	)
	p, err := worker.New(e.js, worker.Config{Logger: slog.New(rl), Hooks: worker.Hooks{OnEvent: func(ev worker.Event) {
		mu.Lock()
		outcomes = append(outcomes, string(ev.Outcome))
		mu.Unlock()
	}}})
	must(t, err)
	must(t, worker.Handle(p, "report", func(ctx context.Context, j *job.Job[struct{}]) error {
		running <- struct{}{}
		<-ctx.Done()
		return fmt.Errorf("write: broken pipe")
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	must(t, p.Start(ctx))
	e.enqueue("report", nil, job.MaxAttempts(1))
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("job did not start")
	}
	sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer scancel()
	_ = p.Stop(sctx)
	mu.Lock()
	got := strings.Join(outcomes, ",")
	mu.Unlock()
	if got != string(worker.OutcomeInterrupted) {
		t.Fatalf("outcomes %q, want interrupted", got)
	}
	if rl.has("ERROR job failed on its last attempt") || !rl.has("job interrupted") {
		t.Errorf("interrupted job logged as:\n%s", rl)
	}
}

// A hook that panics (say OnEvent calling ev.Err.Error() on a success,
// whose Err is nil) is logged and recovered, like a handler's panic: the
// jobs still succeed and the pool works on.
func TestHookPanicIsRecovered(t *testing.T) {
	e := newEnv(t)
	rl := &recordingLog{}
	var ran atomic.Int32
	e.pool(worker.Config{Logger: slog.New(rl), Hooks: worker.Hooks{
		OnEvent:   func(ev worker.Event) { _ = ev.Err.Error() }, // nil for a success
		OnSuccess: func(worker.Event) { panic("hook bug") },
	}}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "noop", func(ctx context.Context, j *job.Job[struct{}]) error {
			ran.Add(1)
			return nil
		}))
	})
	for range 3 {
		e.enqueue("noop", nil)
	}
	eventually(t, func() bool { return ran.Load() == 3 && streamMsgs(t, e) == 0 }, "jobs succeeded and acknowledged")
	eventually(t, func() bool { return rl.has("ERROR a hook panicked") }, "the hook's panic logged")
}
