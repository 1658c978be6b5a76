package worker

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrNotReady is returned by Ready, wrapped with the reason.
var ErrNotReady = errors.New("jetjobs: pool not ready")

// Ready reports whether the pool is consuming jobs: started, not stopping,
// connected to the server, and able to pull from each of its queues (a
// queue whose pull requests have failed since the server last answered one,
// say because its stream or consumer is gone or permissions refuse it, is
// not). Otherwise it returns ErrNotReady wrapped with the reason. It is
// meant for readiness probes (see metrics.NewHandler): it does no I/O and
// does not wait, not even for a Start in progress.
func (p *Pool) Ready() error {
	switch p.status.Load() {
	case stateNew:
		return fmt.Errorf("%w: not started", ErrNotReady)
	case stateStopped:
		return fmt.Errorf("%w: stopped or stopping", ErrNotReady)
	}
	if p.stopping.Load() {
		return fmt.Errorf("%w: stopped or stopping", ErrNotReady)
	}
	if st := p.js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: connection to the server is %s", ErrNotReady, st)
	}
	if pg := p.pulling.Load(); pg != nil {
		if err := pg.failing(); err != nil {
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		}
	}
	return nil
}
