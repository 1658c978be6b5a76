package worker

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jetjobs/jetjobs/job"
)

// unservedWarnInterval is how often a pool warns about one kind it has no
// handler for.
const unservedWarnInterval = time.Minute

// unservedWarnings says, at most once per kind per unservedWarnInterval,
// that jobs of a kind reach a pool without a handler for it. Its zero value
// is ready.
type unservedWarnings struct {
	mu   sync.Mutex
	last map[string]time.Time // by queue and kind
}

// warn logs that a job of info's kind was passed on, unless it did so for
// the kind lately, naming the kinds the pool serves and the closest one.
func (u *unservedWarnings) warn(log *slog.Logger, info *job.Info, served []string) {
	key := info.Queue + " " + info.Kind
	now := time.Now()
	u.mu.Lock()
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if now.Sub(u.last[key]) < unservedWarnInterval {
		u.mu.Unlock()
		return
	}
	u.last[key] = now
	u.mu.Unlock()
	attrs := []slog.Attr{
		slog.String("queue", info.Queue), slog.String("kind", info.Kind), slog.Any("served", served),
	}
	if c := closest(info.Kind, served); c != "" {
		attrs = append(attrs, slog.String("closest", c))
	}
	log.LogAttrs(context.Background(), slog.LevelWarn,
		"jobs of a kind this worker has no handler for: passing them on to the queue's other workers without charging attempts (see docs/semantics.md)", attrs...)
}

// closest returns the name of served nearest to kind, if one is near
// enough to be a likely misspelling.
func closest(kind string, served []string) string {
	best, bestD := "", len(kind)/3+1
	for _, s := range served {
		if d := editDistance(kind, s); d < bestD {
			best, bestD = s, d
		}
	}
	return best
}
