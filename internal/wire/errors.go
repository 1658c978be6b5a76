package wire

import "errors"

// ErrInvalidName is returned for an invalid queue name, kind, prefix or
// subject. The job package re-exports it as job.ErrInvalidName.
var ErrInvalidName = errors.New("jetjobs: invalid name")
