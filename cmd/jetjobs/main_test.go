package main

import (
	"os"
	"testing"

	"github.com/jetjobs/jetjobs/internal/proctest"
)

// binary is the jetjobs binary the end-to-end tests run, built once per
// test run (with the race detector when the tests have it).
var binary string

func TestMain(m *testing.M) {
	os.Exit(proctest.Main(m, ".", "jetjobs", &binary))
}
