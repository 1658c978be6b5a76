package job

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// newestMsgs returns the newest limit messages of s on filter with a
// sequence above floor and at most top (0: up to the last one), oldest
// first. A stream can only be read forward by subject, so it reads
// forward from ever earlier starting points until it has limit messages:
// each round reads only matches, and the window grows by the ratio of the
// matches missing, so the rounds are few.
func newestMsgs(ctx context.Context, s jetstream.Stream, filter string, floor, top uint64, limit int) ([]*jetstream.RawStreamMsg, error) {
	if top == 0 {
		last, err := s.GetLastMsgForSubject(ctx, filter)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("jetjobs: read %s: %w", filter, err)
		}
		top = last.Sequence
	}
	if top <= floor {
		return nil, nil
	}
	window := uint64(limit)
	var msgs []*jetstream.RawStreamMsg
	for {
		from := floor + 1
		if top > window && top-window+1 > from {
			from = top - window + 1
		}
		msgs = msgs[:0]
		for seq := from; ; {
			m, err := s.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(filter))
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("jetjobs: read %s: %w", filter, err)
			}
			if m.Sequence > top {
				break
			}
			msgs = append(msgs, m)
			seq = m.Sequence + 1
		}
		if len(msgs) >= limit || from == floor+1 {
			break
		}
		if len(msgs) == 0 {
			window *= 16
		} else {
			window = window * uint64(2*limit) / uint64(len(msgs))
		}
	}
	if len(msgs) > limit {
		msgs = msgs[len(msgs)-limit:]
	}
	return slices.Clone(msgs), nil
}
