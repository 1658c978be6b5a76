package job

import (
	"context"
	"sync"
)

// inspectParallelism bounds the requests an Inspector has in flight at once
// when it reads per-queue figures: each is a round trip to the server, and
// a hundred queues read one after another take a hundred of them.
const inspectParallelism = 8

// forEachConcurrently calls fn for each item, at most limit at a time, and
// returns the first error; after an error it starts no more calls.
func forEachConcurrently[T any](ctx context.Context, items []T, limit int, fn func(T) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, limit)
	for _, it := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(it); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return first
}
