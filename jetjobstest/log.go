package jetjobstest

import "log/slog"

// quietLogger is the logger of inline pools that were given none: a test
// inspects the WorkResult, not the pool's log line.
var quietLogger = slog.New(slog.DiscardHandler)
