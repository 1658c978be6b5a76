package job

import (
	"context"
	"fmt"
	"math"
)

// Recorder receives what a running attempt reports of itself. The worker
// pool puts one in the context of each attempt of a job that keeps its
// result (see KeepResult); Progress and RecordResult reach it.
type Recorder interface {
	// RecordProgress reports how far the attempt got.
	RecordProgress(fraction float64, message string) error
	// RecordResult sets the attempt's result, encoded JSON of at most
	// MaxResultSize bytes, stored with its state if it succeeds.
	RecordResult(result []byte) error
}

type recorderKey struct{}

// WithRecorder returns a context carrying r, for Progress and RecordResult.
func WithRecorder(ctx context.Context, r Recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

func recorderFrom(ctx context.Context) Recorder {
	r, _ := ctx.Value(recorderKey{}).(Recorder)
	return r
}

// KeepsResult reports whether the attempt running with ctx keeps its state
// and result: whether Progress and RecordResult are stored.
func KeepsResult(ctx context.Context) bool { return recorderFrom(ctx) != nil }

// Progress reports, from inside a handler, how far the job got: fraction
// from 0 to 1 and a short message ("resized 3 of 8"). It is stored in the
// job's state, where Client.Await's OnProgress and Client.Status see it,
// and it tells the server the job is alive (a heartbeat). Reports are
// throttled: at most one every 250 ms is written, the latest one of those
// in between following at the end of the interval, so a handler may report
// in a tight loop. For a job that does not keep its result it does nothing.
func Progress(ctx context.Context, fraction float64, message string) error {
	r := recorderFrom(ctx)
	if r == nil {
		return nil
	}
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return fmt.Errorf("%w: Progress(%v): use a fraction from 0 to 1", ErrInvalidOption, fraction)
	}
	return r.RecordProgress(fraction, message)
}

// RecordResult sets the job's result to v encoded as JSON (json.RawMessage
// and []byte holding JSON are kept as they are); the last call before the
// handler returns nil wins. It is stored with the job's state when the
// attempt succeeds, for Client.Await and Client.Status. A result of more
// than MaxResultSize bytes is refused with ErrResultTooLarge. For a job
// that does not keep its result it does nothing (and encodes nothing).
func RecordResult(ctx context.Context, v any) error {
	r := recorderFrom(ctx)
	if r == nil {
		return nil
	}
	data, err := EncodeResult(v)
	if err != nil {
		return err
	}
	return r.RecordResult(data)
}

// EncodeResult encodes v as a job result: JSON (json.RawMessage and []byte
// holding JSON as they are) of at most MaxResultSize bytes.
func EncodeResult(v any) ([]byte, error) {
	data, err := encodeArgs(v)
	if err != nil {
		return nil, fmt.Errorf("%w: result: %w", ErrEncode, err)
	}
	if len(data) > MaxResultSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds the %d-byte bound; store large output elsewhere (an object store, a database) and return a reference to it", ErrResultTooLarge, len(data), MaxResultSize)
	}
	return data, nil
}
