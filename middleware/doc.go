// Package middleware holds job.Middleware that wrap job handlers the way
// net/http middleware wraps an http.Handler: Timeout and RateLimit.
//
// A worker pool recovers panics, applies job timeouts and logs one line per
// attempt on its own (see worker.Config.Logger), so a pool without any
// middleware is safe and observable; these place further behaviour where an
// application wants it in its chain.
package middleware
