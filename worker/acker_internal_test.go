package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// A batch of acknowledgements to two consumers is confirmed with one
// request per consumer: the server answers the last after processing the
// plain Acks before it, so every job of the batch is settled without an
// error, the server holds none of them pending, and two confirmations
// came for twenty jobs. The acknowledgements of a consumer deleted in the
// meantime are answered "no responders", which settles each of them with
// that error.
func TestAckerConfirmsEachConsumersBatchWithOneRequest(t *testing.T) {
	srv := natstest.Start(t)
	nc, js := srv.Connect(t)
	ctx := context.Background()
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(name string, n int) (jetstream.Consumer, []jetstream.Msg) {
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: name, FilterSubject: "s." + name, AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := js.Publish(ctx, "s."+name, []byte(fmt.Sprint(i))); err != nil {
				t.Fatal(err)
			}
		}
		batch, err := cons.Fetch(n, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if len(msgs) != n {
			t.Fatalf("fetched %d of consumer %s, want %d", len(msgs), name, n)
		}
		return cons, msgs
	}
	consA, a := fetch("a", 10)
	consB, b := fetch("b", 10)

	var mu sync.Mutex
	settled := map[string]error{}
	done := make(chan struct{}, 64)
	ak := newAcker(nc, true, slog.New(slog.NewTextHandler(io.Discard, nil)), func(ev Event) {
		mu.Lock()
		settled[ev.Info.ID] = ev.Err
		mu.Unlock()
		done <- struct{}{}
	})
	if err := ak.start(ctx); err != nil {
		t.Fatal(err)
	}
	defer ak.stop()
	// One batch: queued together, published by one wake of the loop.
	queue := func(name string, msgs []jetstream.Msg) {
		ak.mu.Lock()
		for i, m := range msgs {
			ak.queue = append(ak.queue, ackRequest{msg: m, ev: Event{Info: &job.Info{ID: fmt.Sprintf("%s-%d", name, i)}}})
		}
		ak.mu.Unlock()
	}
	queue("a", a)
	queue("b", b)
	signal(ak.wake)
	waitSettled := func(n int) {
		t.Helper()
		for range n {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("not every acknowledgement was settled (%d so far)", len(settled))
			}
		}
	}
	waitSettled(20)
	for id, err := range settled {
		if err != nil {
			t.Errorf("job %s: %v", id, err)
		}
	}
	if n, _ := ak.sub.Delivered(); n != 2 {
		t.Errorf("%d confirmations for a batch to two consumers, want 2", n)
	}
	for _, cons := range []jetstream.Consumer{consA, consB} {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumAckPending != 0 {
			t.Errorf("consumer %s holds %d jobs unacknowledged after the confirmation", info.Name, info.NumAckPending)
		}
	}

	// A deleted consumer: its batch's request is answered "no responders".
	_, c := fetch("c", 5)
	if err := stream.DeleteConsumer(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	queue("c", c)
	signal(ak.wake)
	waitSettled(5)
	mu.Lock()
	defer mu.Unlock()
	for i := range 5 {
		if err := settled[fmt.Sprintf("c-%d", i)]; !errors.Is(err, nats.ErrNoResponders) {
			t.Errorf("job c-%d of a deleted consumer settled with %v, want no responders", i, err)
		}
	}
}

func TestAckConsumer(t *testing.T) {
	for reply, want := range map[string]string{
		"$JS.ACK.S.a.1.17.3.1765000000000000000.0":                 "$JS.ACK.S.a",
		"$JS.ACK.hub.ACCHASH.S.a.1.17.3.1765000000000000000.0.xyz": "$JS.ACK.hub.ACCHASH.S.a",
		"$JS.ACK.hub.ACCHASH.S.a.1.17.3.1765000000000000000.0":     "$JS.ACK.hub.ACCHASH.S.a",
		"_INBOX.other": "_INBOX.other",
	} {
		if got := ackConsumer(reply); got != want {
			t.Errorf("ackConsumer(%q) = %q, want %q", reply, got, want)
		}
	}
}
