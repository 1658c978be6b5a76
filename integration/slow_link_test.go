package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// flap takes h's link down for down after first and then every period
// until ctx ends, then leaves it up; the returned function waits for that
// and returns how many times the link went down.
func (l *netlab) flap(ctx context.Context, h *nethost, first, period, down time.Duration) (wait func() int) {
	done := make(chan int, 1)
	go func() {
		n := 0
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- n
				return
			case <-t.C:
				t.Reset(period)
			}
			l.cut(h)
			n++
			select {
			case <-ctx.Done():
			case <-time.After(down):
			}
			l.heal(h)
		}
	}()
	return func() int { return <-done }
}

// slowLinkAckWait is the AckWait of the slow-link scenarios; their long
// jobs run 1.5 times as long.
const slowLinkAckWait = 6 * time.Second

// A worker sits behind a bad link to the server (in a network namespace of
// its own, the server in the test's): a clean link for comparison; 200 ms
// of latency each way; 5% of packets dropped each way (nftables); and a
// link that goes down for 2 s every 10 s. Short jobs and four jobs longer
// than AckWait run over it. Every job finishes; no job is dead-lettered;
// the long jobs are not delivered again while their worker lives (its
// heartbeats, every AckWait/3, get through); duplicates and throughput are
// reported.
func TestFaultSlowLink(t *testing.T) {
	for _, link := range []string{"clean", "delay-200ms", "loss-5pct", "down-2s-every-10s"} {
		t.Run(link, func(t *testing.T) { slowLink(t, link) })
	}
}

func slowLink(t *testing.T, link string) {
	lab := newNetlab(t)
	srv := newNATSServer(t, natsServerConfig{host: netSubnet + ".1"})
	srv.start()
	e := newFaultEnv(t, "slow link: "+link, srv.url(), job.Topology{})
	h := lab.host("w1", 21)
	servers := srv.url()
	switch link {
	case "delay-200ms":
		servers = startDelayProxy(t, netSubnet+".1:0", fmt.Sprintf("%s:%d", srv.host, srv.port), 200*time.Millisecond).url()
	case "loss-5pct":
		lab.nft(h, `table inet jjf_loss {
	chain in { type filter hook input priority 0; numgen random mod 100 < 5 drop; }
	chain out { type filter hook output priority 0; numgen random mod 100 < 5 drop; }
}`)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	long := workRequests("long", 4, int(slowLinkAckWait.Milliseconds()*3/2))
	e.enqueueAll(ctx, long)
	short := 400
	if link == "delay-200ms" {
		short = 200 // about 9 jobs/s: keep the scenario short
	}
	if longFaults() {
		short *= 4 // the flapping link: 80 s, eight outages
	}
	var enqueued <-chan error
	flapping := link == "down-2s-every-10s"
	if flapping {
		// Paced over about 20 s (80 s with longFaults), so the work spans
		// two or three outages (eight).
		enqueued = e.enqueueInBackground(workRequests("s", short, 20), 20, time.Second)
	} else {
		e.enqueueAll(ctx, workRequests("s", short, 20))
	}
	started := time.Now()
	startWorkerIn(t, h, e.recDir, "w1", servers,
		"-skip-topology", "-ack-wait", slowLinkAckWait.String(), "-concurrency", "8", "-no-discovery")
	outages := 0
	if flapping {
		// The first outage strikes while the long jobs run.
		fctx, stop := context.WithCancel(ctx)
		flaps := lab.flap(fctx, h, 2*time.Second, 10*time.Second, 2*time.Second)
		e.awaitEnqueued(enqueued)
		waitFor(t, 90*time.Second, 50*time.Millisecond, func() bool { return e.books.streamEmpty(ctx) }, "every job done over the %s link", link)
		stop()
		if outages = flaps(); outages < 2 {
			t.Errorf("the link went down %d times while jobs ran, want 2 or more", outages)
		}
	}
	e.books.accepted = e.ledger.list()
	s := e.books.settle(t, 90*time.Second)
	var lastShort time.Time
	for _, r := range readRecords(t, e.recDir) {
		if r.event == "done" && strings.HasPrefix(r.id, "s-") {
			lastShort = r.at
		}
	}
	elapsed := lastShort.Sub(started)
	noneDead(t, s)
	starts := map[string]int{}
	for _, r := range readRecords(t, e.recDir) {
		if r.event == "start" {
			starts[r.id]++
		}
	}
	for i := range long {
		id := fmt.Sprintf("long-%d", i)
		if starts[id] != 1 {
			t.Errorf("long job %s (%s, AckWait %s) started %d times by its one live worker", id, ms(slowLinkAckWait*3/2), slowLinkAckWait, starts[id])
		}
	}
	report(t, "slow-link-"+link, s,
		fmt.Sprintf("worker behind a %s link (%d outages), AckWait %s, concurrency 8, 4 jobs of %s and %d of 20 ms", link, outages, slowLinkAckWait, ms(slowLinkAckWait*3/2), short),
		fmt.Sprintf("last short job done %s after the worker started (%.1f short jobs/s)", ms(elapsed), float64(short)/elapsed.Seconds()))
}
