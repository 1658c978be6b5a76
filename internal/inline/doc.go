// Package inline connects package jetjobstest to the worker's engine: it
// holds the hooks through which jetjobstest runs one delivery of a job on
// the calling goroutine, through the same code a pool runs it with, and a
// delivery that needs no server.
//
// Package worker sets the hooks when it is initialised (worker/inline.go).
// This package cannot name worker's types (worker imports it), so the pool
// and its configuration pass through as any; jetjobstest, which imports
// worker, holds the concrete values.
package inline
