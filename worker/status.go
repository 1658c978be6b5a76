package worker

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// ErrNotReady is returned by Ready, wrapped with the reason.
var ErrNotReady = errors.New("jetjobs: pool not ready")

// Ready reports whether the pool is consuming jobs: started, not stopping,
// and connected to the server. Otherwise it returns ErrNotReady wrapped with
// the reason, such as a connection that is reconnecting. It is meant for
// readiness probes (see metrics.NewHandler); it does no I/O, though it waits
// for a Start in progress to finish.
func (p *Pool) Ready() error {
	p.mu.Lock()
	state := p.state
	p.mu.Unlock()
	switch {
	case state == stateNew:
		return fmt.Errorf("%w: not started", ErrNotReady)
	case state == stateStopped || p.stopping.Load():
		return fmt.Errorf("%w: stopped or stopping", ErrNotReady)
	}
	if st := p.js.Conn().Status(); st != nats.CONNECTED {
		return fmt.Errorf("%w: connection to the server is %s", ErrNotReady, st)
	}
	return nil
}
