package job_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// BenchmarkInspectorDeadLetters reads the figures of every queue (Queues)
// and of one (Queue) with a growing dead-letter stream: n dead letters of a
// bound queue, n/10 of unreadable jobs (the _invalid pseudo-queue) and n/10
// of a queue that has nothing but dead letters. Each dead letter is a
// subject of its own. Queues reads repeatedly with one Inspector, as the
// metrics collector does; QueuesFirstRead with a new one each time, as the
// CLI does, and so pays for finding the queue that has only dead letters.
func BenchmarkInspectorDeadLetters(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		b.Run("dead_letters="+strconv.Itoa(n), func(b *testing.B) {
			js := withDeadLetters(b, map[string]int{"mail": n, "": n / 10, "orphan": n / 10})
			ctx := context.Background()
			newInspector := func() *job.Inspector {
				in, err := job.NewInspector(js, job.Topology{})
				if err != nil {
					b.Fatal(err)
				}
				return in
			}
			queues := func(in *job.Inspector) {
				qs, err := in.Queues(ctx)
				if err != nil || len(qs) != 2 || qs[0].DeadLetters != uint64(n) || qs[1].DeadLetters != uint64(n/10) {
					b.Fatalf("Queues = %+v, %v", qs, err)
				}
			}
			b.Run("Queues", func(b *testing.B) {
				in := newInspector()
				queues(in) // finds orphan, as the first scrape would
				for b.Loop() {
					queues(in)
				}
			})
			b.Run("QueuesFirstRead", func(b *testing.B) {
				for b.Loop() {
					queues(newInspector())
				}
			})
			b.Run("Queue", func(b *testing.B) {
				in := newInspector()
				for b.Loop() {
					q, err := in.Queue(ctx, "mail")
					if err != nil || q.DeadLetters != uint64(n) {
						b.Fatalf("Queue(mail) = %+v, %v", q, err)
					}
				}
			})
		})
	}
}

// withDeadLetters starts a server with the default namespace, a consumer
// for queue mail, and the given number of dead letters per queue ("": of
// jobs whose queue could not be read).
func withDeadLetters(tb testing.TB, deadLetters map[string]int) jetstream.JetStream {
	tb.Helper()
	srv := natstest.Start(tb)
	_, js := srv.Connect(tb)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	if err := c.EnsureTopology(ctx); err != nil {
		tb.Fatal(err)
	}
	stream, err := js.Stream(ctx, "JOBS")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: "mail", FilterSubject: "jobs.mail.>", AckPolicy: jetstream.AckExplicitPolicy,
	}); err != nil {
		tb.Fatal(err)
	}
	topo := c.Topology()
	seq := uint64(0)
	for q, n := range deadLetters {
		for i := range n {
			seq++
			dl := topo.DeadLetterMessage("jobs."+q+".email.send", nil, []byte(`{}`), fmt.Sprintf("%s-%d", q, i), q, "JOBS", seq, job.ReasonFailed, "boom", 3)
			if _, err := js.PublishMsgAsync(dl); err != nil {
				tb.Fatal(err)
			}
			if seq%1000 == 0 { // stay below the client's limit of unacknowledged publishes
				waitPublished(ctx, tb, js)
			}
		}
	}
	waitPublished(ctx, tb, js)
	return js
}

func waitPublished(ctx context.Context, tb testing.TB, js jetstream.JetStream) {
	tb.Helper()
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		tb.Fatal("dead letters not acknowledged within a minute")
	}
}
