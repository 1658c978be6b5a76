package job_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/jetjobs/jetjobs/job"
)

// Every invalid name, option value and payload is refused at enqueue with
// the right sentinel error and an error text that names the value's
// problem, and nothing is published. (client_test.go covers the common
// cases; this table is the full list.)
func TestEnqueueRefusesEveryInvalidValue(t *testing.T) {
	c, js, _ := newClient(t, job.Topology{MaxMsgSize: 1024})
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		kind string
		args any
		opts []job.Option
		want error
		says string // part of the error text
	}{
		// kinds
		{"kind with space", "a b", nil, nil, job.ErrInvalidName, "not allowed"},
		{"kind with tab", "a\tb", nil, nil, job.ErrInvalidName, "not allowed"},
		{"kind non-ASCII", "é", nil, nil, job.ErrInvalidName, "not allowed"},
		{"kind leading dot", ".a", nil, nil, job.ErrInvalidName, "empty token"},
		{"kind trailing dot", "a.", nil, nil, job.ErrInvalidName, "empty token"},
		{"kind full wildcard", "a.>", nil, nil, job.ErrInvalidName, "not allowed"},
		{"kind star in token", "a*", nil, nil, job.ErrInvalidName, "not allowed"},
		{"kind only wildcard", ">", nil, nil, job.ErrInvalidName, "not allowed"},
		// queues
		{"empty queue", "k", nil, []job.Option{job.Queue("")}, job.ErrInvalidName, "empty"},
		{"queue with space", "k", nil, []job.Option{job.Queue("a b")}, job.ErrInvalidName, "not allowed"},
		{"queue star", "k", nil, []job.Option{job.Queue("*")}, job.ErrInvalidName, "not allowed"},
		{"queue full wildcard", "k", nil, []job.Option{job.Queue(">")}, job.ErrInvalidName, "not allowed"},
		{"queue non-ASCII", "k", nil, []job.Option{job.Queue("é")}, job.ErrInvalidName, "not allowed"},
		{"queue with newline", "k", nil, []job.Option{job.Queue("a\n")}, job.ErrInvalidName, "not allowed"},
		{"queue too long for a consumer name", "k", nil, []job.Option{job.Queue(strings.Repeat("q", 251))}, job.ErrInvalidName, "too long"},
		// IDs
		{"ID with leading space", "k", nil, []job.Option{job.ID(" padded")}, job.ErrInvalidOption, "surrounding spaces"},
		{"ID with trailing space", "k", nil, []job.Option{job.ID("padded ")}, job.ErrInvalidOption, "surrounding spaces"},
		{"ID with carriage return", "k", nil, []job.Option{job.ID("a\rb")}, job.ErrInvalidOption, "line breaks"},
		{"ID too long", "k", nil, []job.Option{job.ID(strings.Repeat("i", 257))}, job.ErrInvalidOption, "256"},
		// headers
		{"header without name", "k", nil, []job.Option{job.Header("", "v")}, job.ErrInvalidOption, "header"},
		{"header name with space", "k", nil, []job.Option{job.Header("X Y", "v")}, job.ErrInvalidOption, "header"},
		{"header name with colon", "k", nil, []job.Option{job.Header("X:Y", "v")}, job.ErrInvalidOption, "header"},
		{"header nats- lower case", "k", nil, []job.Option{job.Header("nats-schedule", "@every 1s")}, job.ErrInvalidOption, "Nats-"},
		{"header Nats-Schedule", "k", nil, []job.Option{job.Header("Nats-Schedule", "@every 1s")}, job.ErrInvalidOption, "Nats-"},
		{"header jetjobs- upper case", "k", nil, []job.Option{job.Header("JETJOBS-ID", "x")}, job.ErrInvalidOption, "Jetjobs-"},
		{"header Jetjobs-Reason", "k", nil, []job.Option{job.Header("Jetjobs-Reason", "failed")}, job.ErrInvalidOption, "Jetjobs-"},
		{"header value with newline", "k", nil, []job.Option{job.Header("X", "a\nb")}, job.ErrInvalidOption, "line breaks"},
		{"header value with carriage return", "k", nil, []job.Option{job.Header("X", "a\rB: c")}, job.ErrInvalidOption, "line breaks"},
		// limits and times
		{"negative attempts", "k", nil, []job.Option{job.MaxAttempts(-5)}, job.ErrInvalidOption, "at least 1"},
		{"zero timeout", "k", nil, []job.Option{job.Timeout(0)}, job.ErrInvalidOption, "positive"},
		{"zero deadline", "k", nil, []job.Option{job.Deadline(time.Time{})}, job.ErrInvalidOption, "non-zero"},
		{"zero run-at", "k", nil, []job.Option{job.At(time.Time{})}, job.ErrInvalidOption, "non-zero"},
		{"negative delay", "k", nil, []job.Option{job.In(-time.Second)}, job.ErrInvalidOption, ">= 0"},
		// payloads
		{"raw bytes not JSON", "k", []byte("not json"), nil, job.ErrEncode, "not valid JSON"},
		{"raw message truncated", "k", json.RawMessage(`{"a":`), nil, job.ErrEncode, "not valid JSON"},
		{"function", "k", func() {}, nil, job.ErrEncode, "kind k"},
		{"NaN", "k", math.NaN(), nil, job.ErrEncode, "kind k"},
		{"channel in a map", "k", map[string]any{"c": make(chan int)}, nil, job.ErrEncode, "kind k"},
		{"payload over MaxMsgSize", "k", strings.Repeat("x", 1025), nil, job.ErrPayloadTooLarge, "MaxMsgSize of 1024"},
	} {
		_, err := c.Enqueue(ctx, tc.kind, tc.args, tc.opts...)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: error %q does not say %q", tc.name, err, tc.says)
		}
		// EnqueueMany refuses it the same way, per job.
		res, err := c.EnqueueMany(ctx, []job.Request{{Kind: tc.kind, Args: tc.args, Options: tc.opts}})
		if err != nil || !errors.Is(res[0].Err, tc.want) {
			t.Errorf("%s: EnqueueMany = %v, %v", tc.name, res, err)
		}
	}
	s, _ := js.Stream(ctx, "JOBS")
	info, _ := s.Info(ctx)
	if info.State.Msgs != 0 {
		t.Fatalf("%d jobs published despite errors", info.State.Msgs)
	}

	// The limits themselves are allowed.
	for name, opts := range map[string][]job.Option{
		"queue of 250": {job.Queue(strings.Repeat("q", 250))},
		"ID of 256":    {job.ID(strings.Repeat("i", 256))},
		"inner spaces": {job.ID("order 7 of 9")},
	} {
		if _, err := c.Enqueue(ctx, "k", nil, opts...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A payload within the stream's MaxMsgSize but over the server's
// max_payload is refused before publishing, naming the server's limit.
func TestEnqueueRefusesPayloadOverServerMaxPayload(t *testing.T) {
	c, _, _ := newClient(t, job.Topology{}, func(o *server.Options) { o.MaxPayload = 4096 })
	_, err := c.Enqueue(context.Background(), "k", strings.Repeat("x", 5000))
	if !errors.Is(err, job.ErrPayloadTooLarge) || !strings.Contains(err.Error(), "max_payload of 4096") {
		t.Fatalf("err = %v", err)
	}
}

// A queue names its consumers ("<queue>", "fire-<queue>") and the server
// limits consumer names to 255 characters: longer queues are refused.
func TestValidateQueueLength(t *testing.T) {
	if err := job.ValidateQueue(strings.Repeat("q", 250)); err != nil {
		t.Fatal(err)
	}
	if err := job.ValidateQueue(strings.Repeat("q", 251)); !errors.Is(err, job.ErrInvalidName) {
		t.Fatalf("251 characters: %v", err)
	}
}

// Errors name the offending character, not its first byte.
func TestInvalidNameErrorsNameTheCharacter(t *testing.T) {
	for _, err := range []error{job.ValidateKind("a.é"), job.ValidateQueue("qé")} {
		if err == nil || !strings.Contains(err.Error(), `'é'`) {
			t.Errorf("error %v does not name 'é'", err)
		}
	}
}
