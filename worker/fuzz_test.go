package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/job"
)

type fuzzArgs struct {
	To    string         `json:"to"`
	N     int            `json:"n"`
	Tags  []string       `json:"tags"`
	Meta  map[string]any `json:"meta"`
	Inner *struct {
		OK bool `json:"ok"`
	} `json:"inner"`
}

// FuzzDecodePayload feeds any payload to a typed handler: it either decodes
// and the handler runs, or it fails with job.ErrDecode (the job is
// dead-lettered with reason decode) and the handler does not run. The
// error, which is logged and stored in the dead letter, never repeats the
// payload. Seeds are in testdata/fuzz; fuzz longer with
// `go test -run '^$' -fuzz '^FuzzDecodePayload$' ./worker`.
func FuzzDecodePayload(f *testing.F) {
	f.Fuzz(func(t *testing.T, payload []byte) {
		ran := false
		h := typed(func(ctx context.Context, j *job.Job[fuzzArgs]) error {
			ran = true
			return nil
		}, nil)
		err := h.Handle(context.Background(), &job.Info{ID: "j", Queue: "q", Kind: "k", Payload: payload})
		if err == nil {
			if !ran {
				t.Fatal("no error, but the handler did not run")
			}
			if len(payload) > 0 && !json.Valid(payload) {
				t.Fatalf("accepted invalid JSON %q", payload)
			}
			return
		}
		if !errors.Is(err, job.ErrDecode) {
			t.Fatalf("decode failure does not wrap job.ErrDecode: %v", err)
		}
		if ran {
			t.Fatal("the handler ran on a payload that does not decode")
		}
		if len(payload) >= 8 && strings.Contains(err.Error(), string(payload)) {
			t.Fatalf("the decode error repeats the payload: %v", err)
		}
	})
}
