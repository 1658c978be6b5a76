package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

// A command file registers its command from init with register, so adding
// a command (bench, cron, cancel, queues pause) is adding one file:
//
//	func init() { register("", newBenchCommand) }              // jetjobs bench
//	func init() { register("queues", newQueuesPauseCommand) }  // jetjobs queues pause
//
// build receives the app, which gives it the streams, the logger, the
// connection flags and the terminal state; it returns the cobra command.
type command struct {
	parent string // space-separated path of the parent; "" for top level
	build  func(a *app) *cobra.Command
}

var commands []command

// register adds a command under parent ("" for top level, "dlq" for
// `jetjobs dlq NAME`). Call it from an init function.
func register(parent string, build func(a *app) *cobra.Command) {
	commands = append(commands, command{parent: parent, build: build})
}

// app is what every command shares: standard streams, whether they are
// terminals, the logger, and the connection and namespace flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// Terminal state of the standard streams, for colour, progress bars and
	// prompts.
	stdinTTY, stdoutTTY, stderrTTY bool

	logFormat, logLevel string
	log                 *slog.Logger

	conn connFlags
	topo topoFlags
}

// exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// exitInterrupted is the shell's status for a command ended by SIGINT.
	exitInterrupted = 130
)

// usageError is bad input on the command line: a usage error exits 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

// run executes the command line args and returns the exit code. It prints
// at most one error line to a.stderr.
func run(ctx context.Context, a *app, args []string) int {
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		fmt.Fprintln(a.stderr, "jetjobs: interrupted")
		return exitInterrupted
	}
	fmt.Fprintln(a.stderr, "jetjobs: "+describe(err))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// describe turns err into one line that says what to do, without the
// repeated "jetjobs: " prefixes of wrapped library errors and without the
// secrets of any URL in it.
func describe(err error) string {
	msg := redact(err.Error())
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		msg += " (the server must run with JetStream enabled, as `jetjobs server` does, or `nats-server -js`)"
	}
	msg = strings.ReplaceAll(msg, "jetjobs: ", "")
	msg = strings.Join(strings.Fields(msg), " ") // one line
	return msg
}

// rootCommand builds the command tree from the registered commands.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "jetjobs",
		Short: "Background jobs on NATS JetStream",
		Long: `jetjobs runs background jobs on NATS JetStream: an embedded server for development
and small installs, a standalone worker that runs any command or calls any URL for
a job, and tools to enqueue jobs, inspect queues and handle dead letters.

Start with the demo:

  jetjobs demo`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogging(cmd)
		},
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.logFormat, "log-format", "auto", "log format: auto (coloured text on a terminal, JSON otherwise), text or json")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn or error")

	built := map[string]*cobra.Command{"": root}
	// Parents before children: sort by depth of the parent path.
	cs := slices.Clone(commands)
	slices.SortStableFunc(cs, func(x, y command) int { return depth(x.parent) - depth(y.parent) })
	for _, c := range cs {
		parent, ok := built[c.parent]
		if !ok {
			panic(fmt.Sprintf("jetjobs: command registered under unknown parent %q", c.parent))
		}
		cmd := c.build(a)
		cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
		parent.AddCommand(cmd)
		built[strings.TrimSpace(c.parent+" "+cmd.Name())] = cmd
	}
	return root
}

func depth(path string) int {
	if path == "" {
		return 0
	}
	return strings.Count(path, " ") + 1
}

// group returns a command that only holds subcommands: alone it prints its
// help; with an unknown subcommand it fails with a usage error.
func group(use, short string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
}

// noArgs refuses arguments, naming the subcommands when there are some.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %q?", s[0])
		}
		return usagef("%s; run '%s --help' for the list", msg, cmd.CommandPath())
	}
	return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
}

// argsBetween accepts between lo and hi arguments (hi < 0: no upper bound).
func argsBetween(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) < lo:
			return usagef("%s needs %s; usage: %s", cmd.CommandPath(), plural(lo, "argument"), cmd.UseLine())
		case hi >= 0 && len(args) > hi:
			return usagef("%s takes at most %s, got %d; usage: %s", cmd.CommandPath(), plural(hi, "argument"), len(args), cmd.UseLine())
		}
		return nil
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// topoFlags name the namespace: the work stream and its subject prefix;
// and, for commands that may create the streams, their replicas.
type topoFlags struct {
	stream, prefix string
	replicas       int
}

func (t *topoFlags) add(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&t.stream, "stream", envOr("JETJOBS_STREAM", job.DefaultStream), "work stream of the namespace (env JETJOBS_STREAM)")
	f.StringVar(&t.prefix, "prefix", envOr("JETJOBS_PREFIX", job.DefaultPrefix), "subject prefix of the namespace (env JETJOBS_PREFIX)")
}

// addReplicas adds --replicas to a command that creates the streams when
// they do not exist; ensures says whether it also brings existing streams
// in line (worker, server) rather than only creating missing ones.
func (t *topoFlags) addReplicas(cmd *cobra.Command, ensures bool) {
	usage := "replicas of the streams if this command creates them (1 to 5; default 1)"
	if ensures {
		usage = "replicas of the streams, when creating them and, if given, for existing ones (1 to 5; default: 1 for new streams, existing ones keep theirs)"
	}
	cmd.PersistentFlags().IntVar(&t.replicas, "replicas", 0, usage)
}

// topology returns the namespace of the flags. Settings left at zero leave
// an existing stream's as they are, so that a command started with defaults
// does not undo what an operator configured, such as 3 replicas.
func (t topoFlags) topology() (job.Topology, error) {
	if t.replicas < 0 || t.replicas > 5 {
		return job.Topology{}, usagef("--replicas %d: use 1 to 5 (3 on a three-server cluster)", t.replicas)
	}
	topo := job.Topology{Stream: t.stream, Prefix: t.prefix, Replicas: t.replicas}
	if err := topo.Validate(); err != nil {
		return job.Topology{}, usageError{err}
	}
	return topo, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
