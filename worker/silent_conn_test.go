package worker_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// blackhole forwards TCP connections to target until frozen; from then on
// it drops every byte either way and forwards no new connection, closing
// nothing: a server behind a network partition, as the client sees it.
type blackhole struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen bool
	conns  []net.Conn
	wg     sync.WaitGroup
}

func startBlackhole(t *testing.T, target string) *blackhole {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	b := &blackhole{ln: ln, target: target}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(b.close)
	return b
}

func (b *blackhole) url() string { return "nats://" + b.ln.Addr().String() }

func (b *blackhole) accept() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns = append(b.conns, c)
		if b.frozen {
			b.wg.Add(1)
			go b.pipe(io.Discard, c)
			b.mu.Unlock()
			continue
		}
		up, err := net.Dial("tcp", b.target)
		if err != nil {
			b.mu.Unlock()
			c.Close()
			continue
		}
		b.conns = append(b.conns, up)
		b.wg.Add(2)
		go b.pipe(up, c)
		go b.pipe(c, up)
		b.mu.Unlock()
	}
}

// pipe copies src to dst until frozen, then reads src and drops it.
func (b *blackhole) pipe(dst io.Writer, src net.Conn) {
	defer b.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		b.mu.Lock()
		frozen := b.frozen
		b.mu.Unlock()
		if !frozen {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

func (b *blackhole) freeze() {
	b.mu.Lock()
	b.frozen = true
	b.mu.Unlock()
}

func (b *blackhole) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// A pool whose server goes silent (a partition: nothing is reset, nothing
// answers) while another server is reachable moves to it within seconds:
// its pulls go unanswered, then a PING does, and it reconnects. nats.go
// alone would notice after 4 to 6 minutes with its default PingInterval
// (two PINGs unanswered at the third interval), and the pool would run
// nothing meanwhile.
func TestPoolLeavesSilentServer(t *testing.T) {
	e := newEnv(t)
	hole := startBlackhole(t, strings.TrimPrefix(e.srv.URL(), "nats://"))
	nc, err := nats.Connect(hole.url()+","+e.srv.URL(),
		nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond), nats.Timeout(time.Second))
	must(t, err)
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	must(t, err)
	done := make(chan string, 10)
	// A job the server sends into the silence is delivered again after
	// AckWait, so the bound below is AckWait plus the time to notice.
	pooltest.Start(t, js, worker.Config{FetchWait: 2 * time.Second, AckWait: 3 * time.Second}, func(p *worker.Pool) {
		must(t, worker.Handle(p, "silent.work", func(ctx context.Context, j *job.Job[struct{}]) error {
			done <- j.ID
			return nil
		}))
	})
	// await waits for job id; another job done meanwhile is a redelivery
	// (its acknowledgement was lost in the silence).
	await := func(id string, within time.Duration) {
		t.Helper()
		deadline := time.After(within)
		for {
			select {
			case got := <-done:
				if got == id {
					return
				}
			case <-deadline:
				t.Fatalf("job %s not done within %s (pool connected to %s; the silent server is %s)", id, within, nc.ConnectedUrlRedacted(), hole.url())
			}
		}
	}
	e.enqueue("silent.work", nil, job.ID("before"))
	await("before", 10*time.Second)

	hole.freeze()
	frozen := time.Now()
	e.enqueue("silent.work", nil, job.ID("after"))
	await("after", 15*time.Second)
	if got := nc.ConnectedUrl(); got != e.srv.URL() {
		t.Errorf("pool connected to %s, want the server that answers, %s", got, e.srv.URL())
	}
	t.Logf("job done on the other server %s after the first went silent", time.Since(frozen).Round(10*time.Millisecond))
}
