// Package pooltest starts worker pools for tests: a quiet logger unless
// JETJOBS_TEST_LOG is set, Start within a deadline, and Stop at cleanup.
package pooltest
