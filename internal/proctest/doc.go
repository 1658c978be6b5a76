// Package proctest runs the programs of this module as processes in tests:
// build a binary once per test run, start it, read its output while it
// runs, signal it and wait for its exit. The end-to-end tests of the CLI and
// of the examples use it.
package proctest
