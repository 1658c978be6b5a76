// Package retry holds the retry policies that decide how long a failed job
// waits before its next attempt. The worker Naks a failed attempt with the
// policy's delay, so the wait happens on the server, not in a worker.
//
// The default policy is exponential backoff with jitter built on
// github.com/cenkalti/backoff/v4: about 1s after the first failure, doubling
// up to one hour.
package retry
