// Package middleware holds job.Middleware that wrap job handlers the way
// net/http middleware wraps an http.Handler: Recover, Logging and Timeout.
//
// A worker pool recovers panics and applies job timeouts on its own, so a
// pool without any middleware is safe; these exist to place that behaviour
// (and its logging) where an application wants it in its chain.
package middleware
