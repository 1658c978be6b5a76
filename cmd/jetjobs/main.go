package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
)

func main() {
	ctx, stop := notifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdin:     os.Stdin,
		stdout:    os.Stdout,
		stderr:    os.Stderr,
		stdinTTY:  term.IsTerminal(int(os.Stdin.Fd())),
		stdoutTTY: term.IsTerminal(int(os.Stdout.Fd())),
		stderrTTY: term.IsTerminal(int(os.Stderr.Fd())),
	}
	code := run(ctx, a, os.Args[1:])
	stop()
	os.Exit(code)
}

// notifyContext is signal.NotifyContext with the signal as the context's
// cause (a signalReceived), so that a command can say which one it got.
// The first of sigs ends the context every command runs under; a second
// one kills the process the default way.
func notifyContext(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch) // the default action for the next one
			cancel(signalReceived{sig})
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		cancel(nil)
	}
}

// signalReceived is the cause of a context a signal ended.
type signalReceived struct{ sig os.Signal }

func (s signalReceived) Error() string { return "received " + signalName(s.sig) }

// signalName is the name a signal has in kill(1) and systemd: SIGTERM
// rather than Go's "terminated".
func signalName(sig os.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}
