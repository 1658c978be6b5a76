package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

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

	cmd *cobra.Command // the command that runs

	conn connFlags
	topo topoFlags

	// What describe needs to know of the command's connection: the server
	// it reached (redacted) and whether that server said it runs
	// JetStream; and the namespace it worked in, once resolved.
	server    string
	serverJS  bool
	namespace *job.Topology
	skipTopo  bool // worker --skip-topology

	// probing ends the running probe, if any (see probe).
	probing atomic.Pointer[context.CancelFunc]
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
	var reported reportedError
	if errors.As(err, &reported) {
		return exitError // its lines are printed
	}
	fmt.Fprintln(a.stderr, "jetjobs: "+a.describe(err))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// reportedError ends a command that printed each of its failures on a
// line of its own (dlq replay, cron rm): it exits 1 with nothing more.
type reportedError struct{ failed, total int }

func (e reportedError) Error() string {
	return fmt.Sprintf("%d of %d failed", e.failed, e.total)
}

// report prints one failure of a command that goes on with its other
// arguments, as run prints a command's error.
func (a *app) report(err error) {
	fmt.Fprintln(a.stderr, "jetjobs: "+a.describe(err))
}

// eachArg calls do once for each distinct argument, in order. A failure do
// calls the argument's own (own true: that argument's trouble) is reported
// on a line of its own and the others go on; any other failure (the
// connection's or the server's, which every argument would meet) ends the
// loop. It returns a reportedError if any argument failed.
func (a *app) eachArg(args []string, do func(arg string) (own bool, err error)) error {
	failed := 0
	seen := map[string]bool{}
	for _, arg := range args {
		if seen[arg] {
			continue
		}
		seen[arg] = true
		own, err := do(arg)
		switch {
		case err == nil:
		case own:
			a.report(err)
			failed++
		default:
			return err
		}
	}
	if failed > 0 {
		return reportedError{failed: failed, total: len(seen)}
	}
	return nil
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
			a.cmd = cmd
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
		// Typos as well as prefixes: cobra sets this default only on the
		// path that our Args function replaces.
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", orList(s))
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

// orList quotes words and joins them with commas and a final "or".
func orList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
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
	stream, prefix   string
	replicas         int
	deadLetterMaxAge time.Duration
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

// addDeadLetterMaxAge adds --dead-letter-max-age to a command that
// creates the streams and brings existing ones in line (worker, server).
func (t *topoFlags) addDeadLetterMaxAge(cmd *cobra.Command) {
	cmd.PersistentFlags().DurationVar(&t.deadLetterMaxAge, "dead-letter-max-age", 0,
		"how long dead letters are kept (at least 2m; default: 30 days for a new stream, an existing one keeps its own; given, it is applied to an existing stream too)")
}

// topology returns the namespace of the flags; changed reports whether
// the command line gave a flag. Settings left at zero leave an existing
// stream's as they are, so that a command started with defaults does not
// undo what an operator configured, such as 3 replicas.
func (t topoFlags) topology(changed func(name string) bool) (job.Topology, error) {
	if changed("replicas") && (t.replicas < 1 || t.replicas > 5) {
		return job.Topology{}, usagef("--replicas %d: use 1 to 5 (3 on a three-server cluster)", t.replicas)
	}
	// The stream's name also names the cancel bucket, which allows fewer
	// characters than a stream does.
	if t.stream == "" || strings.IndexFunc(t.stream, func(r rune) bool { return !isTokenChar(r) }) >= 0 {
		return job.Topology{}, usagef("--stream %q: use a name of A-Z a-z 0-9 _ - (env JETJOBS_STREAM)", t.stream)
	}
	if err := job.ValidatePrefix(t.prefix); err != nil {
		return job.Topology{}, usagef("--prefix %q: use tokens of A-Z a-z 0-9 _ - joined by dots, such as myapp or myapp.jobs (env JETJOBS_PREFIX)", t.prefix)
	}
	if changed("dead-letter-max-age") && t.deadLetterMaxAge < 2*time.Minute {
		// The dead-letter stream removes duplicates over 2 minutes, and the
		// server wants it to keep messages at least that long.
		return job.Topology{}, usagef("--dead-letter-max-age %s: use at least 2m, such as 720h for 30 days", t.deadLetterMaxAge)
	}
	topo := job.Topology{Stream: t.stream, Prefix: t.prefix, Replicas: t.replicas, DeadLetterMaxAge: t.deadLetterMaxAge}
	if err := topo.Validate(); err != nil {
		msg := strings.NewReplacer("Topology.Stream", "--stream", "Topology.Prefix", "--prefix", "Topology.Replicas", "--replicas").Replace(err.Error())
		return job.Topology{}, usageError{errors.New(msg)}
	}
	return topo, nil
}

func isTokenChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}

// topology resolves the namespace of the flags and remembers it, so that
// errors about its streams can name them and the flags.
func (a *app) topology() (job.Topology, error) {
	changed := func(string) bool { return false }
	if a.cmd != nil {
		changed = a.cmd.Flags().Changed
	}
	topo, err := a.topo.topology(changed)
	if err != nil {
		return topo, err
	}
	full := topo.WithDefaults()
	a.namespace = &full
	return topo, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
