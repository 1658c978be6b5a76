package worker

import (
	"context"
	"sync"

	"golang.org/x/sync/errgroup"
)

// service is a background part of a started pool: the schedule relays, the
// max-deliveries rescuer, the cancel watch, the ack loop and the heartbeats.
// start sets it up and starts its goroutines, ctx bounding only the set-up;
// stop ends them and returns when none is left. A service is started once.
// Pool.Start starts its services in order, and Stop stops them in reverse,
// as does a Start that fails half-way: each service may use the ones
// started before it.
type service interface {
	start(ctx context.Context) error
	stop()
}

// startServices starts ss in order. If one fails, those started are stopped
// in reverse and its error returned.
func startServices(ctx context.Context, ss []service) error {
	for i, s := range ss {
		if err := s.start(ctx); err != nil {
			stopServices(ss[:i])
			return err
		}
	}
	return nil
}

// stopServices stops ss in reverse order.
func stopServices(ss []service) {
	for i := len(ss) - 1; i >= 0; i-- {
		ss[i].stop()
	}
}

// loops runs a service's goroutines until stop: go starts one with a
// context that stop cancels, and stop waits for all of them. Its zero value
// is ready.
type loops struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	group  errgroup.Group
}

func (l *loops) init() {
	l.once.Do(func() { l.ctx, l.cancel = context.WithCancel(context.Background()) })
}

// run runs fn on a goroutine of its own until it returns; fn must return
// once ctx ends.
func (l *loops) run(fn func(ctx context.Context)) {
	l.init()
	l.group.Go(func() error {
		fn(l.ctx)
		return nil
	})
}

// stop cancels the goroutines' context and waits for them.
func (l *loops) stop() {
	l.init()
	l.cancel()
	_ = l.group.Wait()
}
