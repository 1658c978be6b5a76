//go:build !race

package proctest

// Race reports whether this program was built with the race detector; Build
// binaries with it so that they are checked too.
const Race = false
