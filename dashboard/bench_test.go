package dashboard_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/internal/wire"
	"github.com/jetjobs/jetjobs/job"
)

// Benchmark sizes: the figures of docs/dashboard.md.
const (
	benchQueues      = 100
	benchPending     = 1_000_000
	benchDeadLetters = 100_000
)

// BenchmarkPages measures each page's server-side time on a namespace of
// 100 queues (each with a bound consumer), 1,000,000 pending jobs and
// 100,000 dead letters, on a file store. Building the data set takes a
// while; it is built once per run:
//
//	go test -run '^$' -bench Pages -benchtime 20x ./dashboard/
func BenchmarkPages(b *testing.B) {
	_, js, c := startNamespace(b)
	ctx := context.Background()
	start := time.Now()
	seqOf := buildBenchData(b, js, c)
	b.Logf("built %d queues, %d pending jobs, %d dead letters in %s", benchQueues, benchPending, benchDeadLetters, time.Since(start).Round(time.Millisecond))

	h, err := dashboard.New(js, dashboard.Config{})
	if err != nil {
		b.Fatal(err)
	}
	web := httptest.NewServer(h)
	defer web.Close()
	hc := web.Client()
	get := func(b *testing.B, path string) {
		resp, err := hc.Get(web.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, clip(string(body)))
		}
	}
	pages := []struct{ name, path string }{
		{"overview", "/"},
		{"queue", "/queues/q042"},
		{"queue-newest-kind", "/queues/q042?order=newest&kind=kind.c"},
		{"queue-page-500", "/queues/q042?after=" + strconv.FormatUint(seqOf["q042-500"], 10)},
		{"job-by-link", "/job?id=q042-777&seq=" + strconv.FormatUint(seqOf["q042-777"], 10)},
		{"job-search-miss", "/job?id=no-such-job"},
		{"dead-letters", "/dead-letters"},
		{"dead-letters-queue", "/dead-letters?queue=q007"},
		{"dead-letters-queue-deep", "/dead-letters?queue=q007&before=10000"},
		{"dead-letters-oldest", "/dead-letters?order=oldest"},
		{"dead-letters-oldest-deep", "/dead-letters?order=oldest&after=90000"},
		{"dead-letters-kind", "/dead-letters?kind=kind.b"},
		{"dead-letters-kind-reason-deep", "/dead-letters?kind=kind.d&reason=decode&before=20000"},
		{"dead-letters-filter", "/dead-letters?kind=kind.b&reason=decode&error=" + url.QueryEscape("quota")},
		{"dead-letter", "/dead-letters/54321"},
		{"schedules", "/schedules"},
		{"workers", "/workers"},
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			get(b, p.path) // warm
			cpu := processCPU()
			for b.Loop() {
				get(b, p.path)
			}
			reportCPU(b, cpu)
		})
	}
	// The count a bulk confirmation states (a POST, not a page).
	counts := []struct {
		name string
		q    job.DeadLetterQuery
	}{
		{"confirm-count-queue", job.DeadLetterQuery{Queue: "q007"}},
		{"confirm-count-kind-all", job.DeadLetterQuery{Kind: "kind.b"}},
		{"confirm-count-queue-kind-reason", job.DeadLetterQuery{Queue: "q007", Kind: "kind.b", Reason: job.ReasonDecode}},
		{"confirm-count-kind-error", job.DeadLetterQuery{Kind: "kind.b", ErrorContains: "quota"}},
		{"confirm-count-error-all", job.DeadLetterQuery{ErrorContains: "quota"}},
	}
	for _, cq := range counts {
		b.Run(cq.name, func(b *testing.B) {
			mark, _ := c.DeadLetterSequence(ctx)
			cq.q.Through = mark
			cpu := processCPU()
			for b.Loop() {
				if _, err := c.CountDeadLetters(ctx, cq.q); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
	// Last, as it adds to the data set: 1,000 dead letters stored by an
	// older version under <queue>.<id>, which a kind filter reads the
	// headers of.
	b.Run("confirm-count-kind-all-1000-v1", func(b *testing.B) {
		topo := c.Topology()
		var futures []jetstream.PubAckFuture
		for i := range 1000 {
			q := fmt.Sprintf("q%03d", i%benchQueues)
			msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, q, "kind.b"), nil, nil, fmt.Sprintf("old-%d", i), q, topo.Stream, uint64(benchPending+i+1), job.ReasonFailed, "old", 3)
			msg.Subject = wire.DeadLetterSubjectV1(topo.DeadLetterPrefix, q, fmt.Sprintf("old-%d", i))
			f, err := js.PublishMsgAsync(msg)
			if err != nil {
				b.Fatal(err)
			}
			futures = append(futures, f)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		mark, _ := c.DeadLetterSequence(ctx)
		cpu := processCPU()
		for b.Loop() {
			n, err := c.CountDeadLetters(ctx, job.DeadLetterQuery{Kind: "kind.b", Through: mark})
			if err != nil {
				b.Fatal(err)
			}
			if n != benchDeadLetters/4+1000 {
				b.Fatalf("counted %d, want %d", n, benchDeadLetters/4+1000)
			}
		}
		reportCPU(b, cpu)
	})
}

// reportCPU reports the CPU time the process (the dashboard, the client
// and the in-process server together) used per operation since start: a
// figure the load of a shared machine moves far less than the time per
// operation.
func reportCPU(b *testing.B, start time.Duration) {
	if start < 0 {
		return
	}
	b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e6, "cpu-ms/op")
}

// buildBenchData publishes the pending jobs (interleaved over the queues,
// the worst case for reading one queue) and the dead letters, and binds a
// consumer to each queue as a worker would. It returns the sequences of a
// few jobs by ID.
func buildBenchData(b *testing.B, js jetstream.JetStream, c *job.Client) map[string]uint64 {
	ctx := context.Background()
	topo := c.Topology()
	s, err := js.Stream(ctx, topo.Stream)
	if err != nil {
		b.Fatal(err)
	}
	for q := range benchQueues {
		name := fmt.Sprintf("q%03d", q)
		if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: name, FilterSubject: job.Subject(topo.Prefix, name, ">"), AckPolicy: jetstream.AckExplicitPolicy,
		}); err != nil {
			b.Fatal(err)
		}
	}
	payload := []byte(`{"to":"someone@example.com","subject":"Your weekly report","template":"weekly","locale":"en"}`)
	seqOf := map[string]uint64{}
	kinds := []string{"kind.a", "kind.b", "kind.c", "kind.d"}
	var futures []jetstream.PubAckFuture
	var ids []string
	flush := func() {
		for i, f := range futures {
			select {
			case ack := <-f.Ok():
				if strings.HasPrefix(ids[i], "q042-") {
					seqOf[ids[i]] = ack.Sequence
				}
			case err := <-f.Err():
				b.Fatal(err)
			}
		}
		futures, ids = futures[:0], ids[:0]
	}
	for i := range benchPending {
		q := i % benchQueues
		n := i / benchQueues
		id := fmt.Sprintf("q%03d-%d", q, n)
		msg := &nats.Msg{Subject: job.Subject(topo.Prefix, fmt.Sprintf("q%03d", q), kinds[n%len(kinds)]), Data: payload, Header: nats.Header{}}
		msg.Header.Set(job.HeaderID, id)
		msg.Header.Set(job.HeaderEnqueuedAt, "2026-12-06T10:00:00Z")
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			b.Fatal(err)
		}
		futures, ids = append(futures, f), append(ids, id)
		if len(futures) == 2000 {
			flush()
		}
	}
	reasons := []job.Reason{job.ReasonFailed, job.ReasonFailed, job.ReasonMaxDeliveries, job.ReasonDecode}
	causes := []string{"connection refused", "timeout after 30s", "quota exceeded for account", "invalid character 'x' looking for beginning of value"}
	for i := range benchDeadLetters {
		q := fmt.Sprintf("q%03d", i%benchQueues)
		msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, q, kinds[i%len(kinds)]), nil, payload, fmt.Sprintf("dead-%d", i), q, topo.Stream, uint64(i+1), reasons[i%len(reasons)], causes[(i/3)%len(causes)], 3)
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			b.Fatal(err)
		}
		futures, ids = append(futures, f), append(ids, "")
		if len(futures) == 2000 {
			flush()
		}
	}
	flush()
	return seqOf
}
