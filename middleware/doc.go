// Package middleware holds job.Middleware that wrap job handlers the way
// net/http middleware wraps an http.Handler: Recover, Logging, Timeout and
// RateLimit. Outcome names, with a log level, what a worker does with an
// attempt's result, for middleware that logs in its own way.
//
// A worker pool recovers panics and applies job timeouts on its own, so a
// pool without any middleware is safe; these exist to place that behaviour
// (and its logging) where an application wants it in its chain.
package middleware
