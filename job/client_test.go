package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

func newClient(t *testing.T, topo job.Topology, configure ...func(*server.Options)) (*job.Client, jetstream.JetStream, *natstest.Server) {
	t.Helper()
	srv := natstest.Start(t, configure...)
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{Topology: topo})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, js, srv
}

func lastMsg(t *testing.T, js jetstream.JetStream, subject string) *jetstream.RawStreamMsg {
	t.Helper()
	s, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetLastMsgForSubject(context.Background(), subject)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEnqueueWritesProtocolV1(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	r, err := c.Enqueue(context.Background(), "email.send", map[string]string{"to": "a@b.c"},
		job.Queue("mail"), job.ID("order-7"), job.MaxAttempts(4), job.Timeout(90*time.Second), job.Header("X-Tenant", "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != "order-7" || r.Seq == 0 || r.Duplicate {
		t.Fatalf("result %+v", r)
	}
	m := lastMsg(t, js, "jobs.mail.email.send")
	if string(m.Data) != `{"to":"a@b.c"}` {
		t.Fatalf("payload %s", m.Data)
	}
	for h, want := range map[string]string{
		job.HeaderID: "order-7", job.HeaderMsgID: "order-7", job.HeaderMaxAttempts: "4", job.HeaderTimeout: "1m30s", "X-Tenant": "acme",
	} {
		if got := m.Header.Get(h); got != want {
			t.Errorf("header %s = %q, want %q", h, got, want)
		}
	}
	// The enqueue time is the stream's timestamp: a job that runs when
	// stored does not repeat it in a header.
	if v := m.Header.Get(job.HeaderEnqueuedAt); v != "" {
		t.Errorf("Enqueued-At = %q on a job that is not delayed; the stream's timestamp says it", v)
	}

	// A generated ID is new by construction: no deduplication entry.
	if _, err := c.Enqueue(context.Background(), "email.send", nil, job.Queue("mail"), job.MaxAttempts(2)); err != nil {
		t.Fatal(err)
	}
	m = lastMsg(t, js, "jobs.mail.email.send")
	if m.Header.Get(job.HeaderID) == "" || m.Header.Get(job.HeaderMsgID) != "" {
		t.Errorf("generated ID: Jetjobs-Id %q, Nats-Msg-Id %q; want the ID and no Nats-Msg-Id", m.Header.Get(job.HeaderID), m.Header.Get(job.HeaderMsgID))
	}
	// A job of kind and arguments alone goes without headers: its ID is
	// its place in the stream, which starts at the stream's creation time.
	r, err = c.Enqueue(context.Background(), "email.send", nil, job.Queue("mail"))
	if err != nil {
		t.Fatal(err)
	}
	m = lastMsg(t, js, "jobs.mail.email.send")
	if len(m.Header) != 0 || r.ID != fmt.Sprintf("JOBS-%d", m.Sequence) || m.Sequence < uint64(time.Now().Add(-time.Hour).UnixMicro()) {
		t.Errorf("plain job: headers %v, ID %q, sequence %d; want no headers and JOBS-<sequence> from the stream's creation time", m.Header, r.ID, m.Sequence)
	}
	res, err := c.EnqueueMany(context.Background(), []job.Request{{Kind: "email.send", Options: []job.Option{job.Queue("mail")}}})
	if err != nil || res[0].Err != nil || res[0].ID != fmt.Sprintf("JOBS-%d", res[0].Seq) {
		t.Errorf("EnqueueMany of a plain job: %+v, %v", res, err)
	}
}

func TestEnqueueDuplicateIsReportedNotStored(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	r1, err := c.Enqueue(ctx, "k", 1, job.ID("same"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Enqueue(ctx, "k", 1, job.ID("same"))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Duplicate || !r2.Duplicate || r2.Seq != r1.Seq {
		t.Fatalf("r1 %+v r2 %+v", r1, r2)
	}
	u1, _ := c.Enqueue(ctx, "k", map[string]int{"a": 1}, job.Unique())
	u2, _ := c.Enqueue(ctx, "k", map[string]int{"a": 1}, job.Unique())
	u3, _ := c.Enqueue(ctx, "k", map[string]int{"a": 2}, job.Unique())
	if u1.ID != u2.ID || !u2.Duplicate || u3.ID == u1.ID || u3.Duplicate {
		t.Fatalf("unique: %+v %+v %+v", u1, u2, u3)
	}
	s, _ := js.Stream(ctx, "JOBS")
	info, _ := s.Info(ctx)
	if info.State.Msgs != 3 {
		t.Fatalf("stream holds %d jobs, want 3", info.State.Msgs)
	}
}

func TestEnqueueRefusesBadInputBeforePublishing(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{MaxMsgSize: 1024})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		kind string
		args any
		opts []job.Option
		want error
	}{
		{"empty kind", "", nil, nil, job.ErrInvalidName},
		{"wildcard kind", "a.*", nil, nil, job.ErrInvalidName},
		{"reserved queue", "k", nil, []job.Option{job.Queue("_x")}, job.ErrInvalidName},
		{"dotted queue", "k", nil, []job.Option{job.Queue("a.b")}, job.ErrInvalidName},
		{"unencodable", "k", make(chan int), nil, job.ErrEncode},
		{"raw not JSON", "k", []byte("{nope"), nil, job.ErrEncode},
		{"oversize", "k", strings.Repeat("x", 2000), nil, job.ErrPayloadTooLarge},
		{"zero attempts", "k", nil, []job.Option{job.MaxAttempts(0)}, job.ErrInvalidOption},
		{"negative timeout", "k", nil, []job.Option{job.Timeout(-time.Second)}, job.ErrInvalidOption},
		{"reserved header", "k", nil, []job.Option{job.Header("Nats-Msg-Id", "x")}, job.ErrInvalidOption},
		{"header injection", "k", nil, []job.Option{job.Header("X", "a\r\nB: c")}, job.ErrInvalidOption},
		{"ID and Unique", "k", nil, []job.Option{job.ID("a"), job.Unique()}, job.ErrInvalidOption},
		{"empty ID", "k", nil, []job.Option{job.ID("")}, job.ErrInvalidOption},
	} {
		if _, err := c.Enqueue(ctx, tc.kind, tc.args, tc.opts...); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	s, _ := js.Stream(ctx, "JOBS")
	info, _ := s.Info(ctx)
	if info.State.Msgs != 0 {
		t.Fatalf("%d messages published despite errors", info.State.Msgs)
	}
}

func TestEnqueueFullStream(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{MaxMsgs: 3})
	ctx := context.Background()
	for i := range 3 {
		if _, err := c.Enqueue(ctx, "k", i); err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Enqueue(ctx, "k", 4)
	if !errors.Is(err, job.ErrQueueFull) {
		t.Fatalf("enqueue into a full stream: %v", err)
	}
	res, err := c.EnqueueMany(ctx, []job.Request{{Kind: "k", Args: 5}})
	if err != nil || !errors.Is(res[0].Err, job.ErrQueueFull) {
		t.Fatalf("EnqueueMany into a full stream: %v %+v", err, res)
	}
}

// A server whose JetStream storage is used up refuses a job with
// ErrStorageFull, mapped from its error code (not ErrQueueFull: the
// stream's own limits are not reached).
func TestEnqueueServerOutOfStorage(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{}, func(o *server.Options) { o.JetStreamMaxStore = 64 << 10 })
	ctx := context.Background()
	pad := strings.Repeat("x", 8<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = c.Enqueue(ctx, "k", pad)
	}
	if !errors.Is(err, job.ErrStorageFull) || errors.Is(err, job.ErrQueueFull) {
		t.Fatalf("enqueue into a server out of storage: %v", err)
	}
	if !strings.Contains(err.Error(), "max_file_store") {
		t.Errorf("the error does not say what to do: %v", err)
	}
	res, err := c.EnqueueMany(ctx, []job.Request{{Kind: "k", Args: pad}})
	if err != nil || !errors.Is(res[0].Err, job.ErrStorageFull) {
		t.Fatalf("EnqueueMany into a server out of storage: %v %+v", err, res)
	}
}

func TestEnqueueWithoutStream(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enqueue(context.Background(), "k", nil); !errors.Is(err, job.ErrNoStream) {
		t.Fatalf("err = %v", err)
	}
	res, err := c.EnqueueMany(context.Background(), []job.Request{{Kind: "k"}, {Kind: "k"}})
	if err != nil || !errors.Is(res[0].Err, job.ErrNoStream) || !errors.Is(res[1].Err, job.ErrNoStream) {
		t.Fatalf("EnqueueMany without a stream: %v %+v", err, res)
	}
}

func TestEnqueueManyReturnsResultPerJob(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	reqs := []job.Request{
		{Kind: "a", Args: 1},
		{Kind: "bad kind", Args: 2},
		{Kind: "c", Args: 3, Options: []job.Option{job.ID("fixed")}},
		{Kind: "c", Args: 3, Options: []job.Option{job.ID("fixed")}},
	}
	res, err := c.EnqueueMany(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[0].Seq == 0 || !errors.Is(res[1].Err, job.ErrInvalidName) || res[2].Err != nil || res[2].ID != "fixed" {
		t.Fatalf("results %+v", res)
	}
	if !res[3].Duplicate {
		t.Fatalf("second fixed-ID job not reported duplicate: %+v", res[3])
	}
	s, _ := js.Stream(context.Background(), "JOBS")
	info, _ := s.Info(context.Background())
	if info.State.Msgs != 2 {
		t.Fatalf("stream holds %d jobs, want 2", info.State.Msgs)
	}
}

func TestEnsureTopologyIsIdempotentAndRefusesIncompatibleStreams(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	for range 2 {
		if err := c.EnsureTopology(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Tunables are updated in place.
	c2, _ := job.NewClient(js, job.ClientConfig{Topology: job.Topology{MaxMsgs: 1000}})
	if err := c2.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, "JOBS")
	if s.CachedInfo().Config.MaxMsgs != 1000 {
		t.Fatalf("MaxMsgs not updated: %d", s.CachedInfo().Config.MaxMsgs)
	}
	// A foreign stream under the same name is reported, not changed.
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "OTHER", Subjects: []string{"other.>"}}); err != nil {
		t.Fatal(err)
	}
	c3, _ := job.NewClient(js, job.ClientConfig{Topology: job.Topology{Stream: "OTHER", Prefix: "other"}})
	err := c3.EnsureTopology(ctx)
	if !errors.Is(err, job.ErrTopologyMismatch) || !strings.Contains(err.Error(), "retention") {
		t.Fatalf("err = %v", err)
	}
	o, _ := js.Stream(ctx, "OTHER")
	if o.CachedInfo().Config.Retention != jetstream.LimitsPolicy {
		t.Fatal("incompatible stream was changed")
	}
}

func TestNamespaces(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{Stream: "ORDERS", Prefix: "orders"})
	if _, err := c.Enqueue(context.Background(), "ship", json.RawMessage(`{"id":1}`)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ORDERS", "ORDERS_DLQ", "ORDERS_SCHEDULES"} {
		if _, err := js.Stream(context.Background(), name); err != nil {
			t.Errorf("stream %s: %v", name, err)
		}
	}
	s, _ := js.Stream(context.Background(), "ORDERS")
	if m, err := s.GetLastMsgForSubject(context.Background(), "orders.default.ship"); err != nil || string(m.Data) != `{"id":1}` {
		t.Fatalf("job in namespace: %v", err)
	}
}

func TestEnqueueManyLargeBatch(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	const n = 12000 // three times the JetStream context's async publish limit
	reqs := make([]job.Request, n)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "bulk", Args: i}
	}
	res, err := c.EnqueueMany(context.Background(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Seq == 0 {
			t.Fatalf("job %d: %+v", i, r)
		}
	}
	s, _ := js.Stream(context.Background(), "JOBS")
	info, _ := s.Info(context.Background())
	if info.State.Msgs != n {
		t.Fatalf("stream holds %d jobs, want %d", info.State.Msgs, n)
	}
}

func TestEnsureTopologyKeepsSettingsItWasNotGiven(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{MaxMsgs: 500, MaxAge: time.Hour, DuplicateWindow: time.Minute})
	ctx := context.Background()
	// A process with default settings must not undo them.
	def, _ := job.NewClient(js, job.ClientConfig{})
	if err := def.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, "JOBS")
	cfg := s.CachedInfo().Config
	if cfg.MaxMsgs != 500 || cfg.MaxAge != time.Hour || cfg.Duplicates != time.Minute {
		t.Fatalf("defaults overrode explicit settings: MaxMsgs %d MaxAge %s Duplicates %s", cfg.MaxMsgs, cfg.MaxAge, cfg.Duplicates)
	}
	// An explicit setting still changes them.
	_ = c
	changed, _ := job.NewClient(js, job.ClientConfig{Topology: job.Topology{MaxMsgs: 900}})
	if err := changed.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	s, _ = js.Stream(ctx, "JOBS")
	if got := s.CachedInfo().Config; got.MaxMsgs != 900 || got.MaxAge != time.Hour {
		t.Fatalf("explicit MaxMsgs not applied or others changed: %+v", got)
	}
}

// A client whose topology names a stream that does not own its subject
// prefix learns that its job went elsewhere, instead of a silent success
// that no worker of its topology will ever see.
func TestEnqueueReportsAJobStoredInAnotherStream(t *testing.T) {
	ctx := context.Background()
	_, js, _ := newClient(t, job.Topology{}) // JOBS owns jobs.>
	stray, err := job.NewClient(js, job.ClientConfig{Topology: job.Topology{Stream: "MYAPP"}})
	if err != nil {
		t.Fatal(err)
	}
	r, err := stray.Enqueue(ctx, "k", nil)
	if !errors.Is(err, job.ErrTopologyMismatch) || !strings.Contains(err.Error(), "stored in stream JOBS, not MYAPP") || r.Seq == 0 {
		t.Fatalf("Enqueue = %+v, %v; want ErrTopologyMismatch naming JOBS and MYAPP, with the sequence", r, err)
	}
	rs, _ := stray.EnqueueMany(ctx, []job.Request{{Kind: "k"}, {Kind: "k"}})
	for _, r := range rs {
		if !errors.Is(r.Err, job.ErrTopologyMismatch) {
			t.Fatalf("EnqueueMany result = %+v, want ErrTopologyMismatch", r)
		}
	}
}

// A connection lost in the middle of EnqueueMany ends the call rather
// than leaving it waiting for acknowledgements that were sent on the lost
// connection: every job is either acknowledged, refused, or says the
// connection was lost.
func TestEnqueueManyConnectionLost(t *testing.T) {
	srv := natstest.Start(t)
	_, js := srv.Connect(t)
	var published atomic.Int32
	c, err := job.NewClient(js, job.ClientConfig{BeforePublish: func(_ context.Context, _ *nats.Msg) {
		if published.Add(1) == 2000 {
			srv.Shutdown()
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(context.Background()); err != nil {
		t.Fatal(err)
	}
	reqs := make([]job.Request, 20000)
	for i := range reqs {
		reqs[i] = job.Request{Kind: "k", Args: i}
	}
	done := make(chan struct{})
	var res []job.Result
	go func() {
		defer close(done)
		res, err = c.EnqueueMany(context.Background(), reqs)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("EnqueueMany still waits 20 s after its connection was lost")
	}
	if err != nil {
		t.Fatalf("EnqueueMany returned %v; the lost connection belongs in the Results", err)
	}
	stored, lost := 0, 0
	for i, r := range res {
		switch {
		case r.Err == nil && r.Seq > 0:
			stored++
		case errors.Is(r.Err, nats.ErrDisconnected) || errors.Is(r.Err, nats.ErrConnectionClosed):
			lost++
		case errors.Is(r.Err, job.ErrNoStream):
			// Refused by the server while it shut JetStream down before
			// the connection.
		default:
			t.Fatalf("result %d: %+v", i, r)
		}
	}
	if lost == 0 {
		t.Fatalf("%d stored, none reported lost of %d", stored, len(reqs))
	}
}

// A plain job's ID is its place in the work stream, and a work stream
// deleted and made again by EnsureTopology starts past every sequence the
// old one could have used: no new job gets the ID of one that ran before.
func TestPlainJobIDsDoNotRepeatAfterTheStreamIsMadeAgain(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{})
	ctx := context.Background()
	first, err := c.Enqueue(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, "JOBS"); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureTopology(ctx); err != nil {
		t.Fatal(err)
	}
	again, err := c.Enqueue(ctx, "k", nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Seq <= first.Seq || again.ID == first.ID || again.ID != fmt.Sprintf("JOBS-%d", again.Seq) {
		t.Fatalf("before %+v, after the stream was made again %+v", first, again)
	}
}
