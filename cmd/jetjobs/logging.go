package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/lmittmann/tint"
	"github.com/spf13/cobra"
)

// setupLogging builds a.log from --log-format and --log-level: coloured
// text (tint) when stderr is a terminal, JSON otherwise.
func (a *app) setupLogging(*cobra.Command) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usagef("--log-level %q: use debug, info, warn or error", a.logLevel)
	}
	format := strings.ToLower(a.logFormat)
	if format == "auto" {
		format = "json"
		if a.stderrTTY {
			format = "text"
		}
	}
	switch format {
	case "text":
		a.log = slog.New(tint.NewHandler(a.stderr, &tint.Options{
			Level:      level,
			TimeFormat: time.TimeOnly,
			NoColor:    !a.stderrTTY,
		}))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	default:
		return usagef("--log-format %q: use auto, text or json", a.logFormat)
	}
	return nil
}
