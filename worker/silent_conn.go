package worker

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
)

// reconnectIfSilent checks whether nc still answers after a puller's
// requests went unanswered: it flushes (a PING the server answers with a
// PONG) within timeout, and if the connection stays up but silent, makes
// nats.go reconnect now. It reports whether it did.
//
// Unanswered requests alone do not tell a lost server from a busy one or
// a consumer between leaders; a PING that goes unanswered does. A server
// cut off by a network partition resets no connection: nats.go notices
// only when a third PING interval passes with two PINGs unanswered, 4 to
// 6 minutes with its defaults, and all that time the pool would run no job even though the
// rest of the cluster is reachable.
func reconnectIfSilent(ctx context.Context, nc *nats.Conn, timeout time.Duration, log *slog.Logger) bool {
	if nc.Status() != nats.CONNECTED {
		return false // already reconnecting, or closed
	}
	err := nc.FlushTimeout(timeout)
	if !errors.Is(err, nats.ErrTimeout) || nc.Status() != nats.CONNECTED {
		return false
	}
	log.LogAttrs(ctx, slog.LevelWarn, "the server does not answer on this connection; reconnecting",
		slog.String("server", nc.ConnectedUrlRedacted()), slog.Duration("waited", timeout))
	return nc.ForceReconnect() == nil
}
