package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/metrics"
	"github.com/jetjobs/jetjobs/retry"
	"github.com/jetjobs/jetjobs/worker"
)

func init() { register("", newWorkerCommand) }

type workerFlags struct {
	execs           []string
	https           []string
	queues          []string
	concurrency     int
	maxAttempts     int
	timeout         time.Duration
	httpTimeout     time.Duration
	shutdownTimeout time.Duration
	retryInitial    time.Duration
	retryMax        time.Duration
	ackWait         time.Duration
	metricsListen   string
	skipTopology    bool
	snoozeInQueue   bool
	maxTimeout      time.Duration
	unservedTimeout time.Duration
	logSuccess      bool
}

func newWorkerCommand(a *app) *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker (--exec KIND=COMMAND | --http KIND=URL)...",
		Short: "Work jobs by running a command or calling a URL for each",
		Long: `Work jobs of the given kinds, in any language.

--exec KIND=COMMAND runs 'sh -c COMMAND' for each job of KIND, with the job's
JSON payload on stdin and JETJOBS_ID, JETJOBS_KIND, JETJOBS_QUEUE,
JETJOBS_ATTEMPT, JETJOBS_MAX_ATTEMPTS, JETJOBS_TIMEOUT and JETJOBS_SNOOZE_FILE
in its environment, which is the worker's without its connection and
credentials (NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS and
NATS_NKEY). Exit status 0 is success; 65 (EX_DATAERR) a permanent failure,
dead-lettered at once; 75 (EX_TEMPFAIL) a snooze for the delay the command
wrote to $JETJOBS_SNOOZE_FILE (such as 90s, or 90 for seconds; 1m if none),
which uses up no attempt; any other a failed attempt whose error is the tail
of the command's stderr. The command's stdout goes to the worker's stdout. A command that runs
past --timeout (or the job's own timeout) is killed with its whole process
group.

--http KIND=URL POSTs the payload (Content-Type: application/json, with
Jetjobs-Id, Jetjobs-Kind, Jetjobs-Queue, Jetjobs-Attempt, Jetjobs-Max-Attempts
and Jetjobs-Timeout headers) to URL; a 2xx response is success, a 4xx other
than 408 and 429 a permanent failure, 429 or 503 with Retry-After a snooze
for that long, anything else a failed attempt. A call may take
the job's time limit (--timeout or the job's own), or --http-timeout for a job
without one. Errors and logs show the URL without its password or token.

Failed attempts are retried with exponential backoff from --retry-initial to
--retry-max; the last allowed attempt goes to the dead letters (jetjobs dlq).
SIGINT or SIGTERM stops taking jobs and lets running ones finish for up to
--shutdown-timeout; then they are killed and handed back for redelivery.

At start the worker creates missing streams, with 1 replica or --replicas N,
and leaves the settings of existing ones alone unless --replicas is given.
--skip-topology assumes the streams exist and touches none, for users whose
permissions do not allow it (docs/security.md). --snooze-in-queue keeps
snoozed jobs waiting in their own queue instead of the schedule stream, for
users who may not publish there (the worker role of docs/security.md).

--metrics-listen ADDR serves Prometheus metrics on /metrics, liveness on
/healthz and readiness on /readyz (503 while not connected or stopping) at
ADDR, such as :9090; port 0 picks a free port, which the log line "serving
metrics" names.`,
		Example: `  jetjobs worker --exec 'email.send=./send-email.sh' --exec 'report.build=python3 report.py'
  jetjobs worker --queue mail --concurrency 4 --timeout 1m --exec 'email.send=node send.js'
  jetjobs worker --http 'invoice.render=http://127.0.0.1:8080/jobs/invoice'
  jetjobs worker --metrics-listen :9090 --exec 'email.send=./send-email.sh'
  jetjobs worker --skip-topology --snooze-in-queue --inbox-prefix _INBOX_mail_worker --queue mail --exec 'email.send=./send-email.sh'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.work(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVarP(&f.execs, "exec", "e", nil, "run COMMAND with sh -c for each job of KIND (KIND=COMMAND, repeatable)")
	fl.StringArrayVar(&f.https, "http", nil, "POST each job of KIND to URL (KIND=URL, repeatable)")
	fl.StringSliceVarP(&f.queues, "queue", "q", []string{job.DefaultQueue}, "queues to serve (repeatable or comma-separated)")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 10, "jobs run at once per queue")
	fl.IntVar(&f.maxAttempts, "max-attempts", job.DefaultMaxAttempts, "attempts of jobs that set no limit of their own")
	fl.DurationVar(&f.timeout, "timeout", 0, "time limit of each attempt of jobs that set none (0: none)")
	fl.DurationVar(&f.maxTimeout, "max-timeout", 0, "cap on every attempt, whatever time limit the job itself asks for (0: no cap)")
	fl.DurationVar(&f.unservedTimeout, "unserved-timeout", 24*time.Hour, "how long a job of a kind this worker does not serve waits for a worker that does before it is dead-lettered (no-handler)")
	fl.DurationVar(&f.httpTimeout, "http-timeout", defaultHTTPTimeout, "time limit of each --http call of a job without a time limit (--timeout or its own)")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 30*time.Second, "on SIGINT/SIGTERM, how long running jobs may finish")
	fl.DurationVar(&f.retryInitial, "retry-initial", time.Second, "delay after the first failed attempt; it doubles for each further one")
	fl.DurationVar(&f.retryMax, "retry-max", time.Hour, "longest delay between attempts")
	fl.DurationVar(&f.ackWait, "ack-wait", 30*time.Second, "after how long without a heartbeat the job of a dead worker is redelivered")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this address, such as :9090 (default: off)")
	fl.BoolVar(&f.skipTopology, "skip-topology", false, "assume the streams exist: neither create nor change them (for least-privilege users)")
	fl.BoolVar(&f.snoozeInQueue, "snooze-in-queue", false, "snoozed jobs wait in their queue, not in the schedule stream (for least-privilege users)")
	fl.BoolVar(&f.logSuccess, "log-success", true, "log each job that succeeded at info; --log-success=false logs them at debug only (failures are logged either way)")
	a.addConnFlags(cmd)
	a.topo.addReplicas(cmd, true)
	a.topo.addDeadLetterMaxAge(cmd)
	return cmd
}

// handlerSpec is one --exec or --http flag.
type handlerSpec struct {
	kind, target string
	http         bool
}

func parseHandlerSpecs(execs, https []string) ([]handlerSpec, error) {
	var specs []handlerSpec
	seen := map[string]bool{}
	add := func(flag, v string, isHTTP bool) error {
		kind, target, ok := strings.Cut(v, "=")
		kind, target = strings.TrimSpace(kind), strings.TrimSpace(target)
		if isHTTP && ok {
			// A URL may hold a password: errors show it without.
			v = kind + "=" + redactServers(target)
		}
		if !ok || target == "" {
			return usagef("--%s %q: use KIND=%s", flag, v, map[bool]string{false: "COMMAND", true: "URL"}[isHTTP])
		}
		if err := job.ValidateKind(kind); err != nil {
			return usagef("--%s %q: %w", flag, v, err)
		}
		if seen[kind] {
			return usagef("--%s %q: kind %s is given twice", flag, v, kind)
		}
		if isHTTP && !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
			return usagef("--http %q: the URL must start with http:// or https://", v)
		}
		if isHTTP {
			if err := checkHTTPURL(target); err != nil {
				return usagef("--http %q: %w", v, err)
			}
		}
		seen[kind] = true
		specs = append(specs, handlerSpec{kind: kind, target: target, http: isHTTP})
		return nil
	}
	for _, v := range execs {
		if err := add("exec", v, false); err != nil {
			return nil, err
		}
	}
	for _, v := range https {
		if err := add("http", v, true); err != nil {
			return nil, err
		}
	}
	if len(specs) == 0 {
		return nil, usagef("give at least one --exec KIND=COMMAND or --http KIND=URL")
	}
	return specs, nil
}

func (a *app) work(ctx context.Context, f workerFlags) error {
	specs, err := parseHandlerSpecs(f.execs, f.https)
	if err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	queues := map[string]worker.QueueConfig{}
	for _, q := range f.queues {
		queues[q] = worker.QueueConfig{Concurrency: f.concurrency}
	}
	policy := retry.Exponential{Initial: f.retryInitial, Max: f.retryMax}
	topo, err := a.topology()
	if err != nil {
		return err
	}
	a.skipTopo = f.skipTopology
	if f.skipTopology && topo.Replicas != 0 {
		return usagef("--replicas %d has no effect with --skip-topology, which leaves the streams alone; give one or the other", topo.Replicas)
	}
	if f.skipTopology && topo.DeadLetterMaxAge != 0 {
		return usagef("--dead-letter-max-age has no effect with --skip-topology, which leaves the streams alone; give one or the other")
	}
	cfg := worker.Config{
		Queues:          queues,
		Topology:        topo,
		SkipTopology:    f.skipTopology,
		SnoozeInQueue:   f.snoozeInQueue,
		MaxTimeout:      f.maxTimeout,
		UnservedTimeout: f.unservedTimeout,
		Logger:          a.log,
		RetryPolicy:     policy,
		MaxAttempts:     f.maxAttempts,
		Timeout:         f.timeout,
		AckWait:         f.ackWait,
		ShutdownTimeout: f.shutdownTimeout,
	}
	if f.logSuccess {
		// The pool logs a success at debug; a newcomer at the default level
		// would see nothing of the jobs that ran.
		cfg.Hooks.OnSuccess = func(ev worker.Event) {
			attrs := []slog.Attr{slog.String("job_id", ev.Info.ID), slog.String("queue", ev.Info.Queue), slog.String("kind", ev.Info.Kind),
				slog.Int("attempt", ev.Info.Attempt), slog.Duration("duration", ev.Duration)}
			if ev.Err != nil {
				attrs = append(attrs, slog.String("error", ev.Err.Error()))
			}
			a.log.LogAttrs(context.Background(), slog.LevelInfo, "job done", attrs...)
		}
	}

	// Listen before connecting, so that a taken port fails at once.
	var ln net.Listener
	if f.metricsListen != "" {
		if ln, err = listenMetrics(f.metricsListen); err != nil {
			return err
		}
		defer ln.Close() // on early returns; Serve closes it otherwise
	}

	nc, js, err := a.connect(ctx, "worker", true)
	if err != nil {
		return err
	}
	defer nc.Close()
	var reg *prometheus.Registry
	if ln != nil {
		coll, err := metrics.New(js, metrics.Config{Topology: cfg.Topology, Queues: slices.Sorted(maps.Keys(queues))})
		if err != nil {
			return usageError{err}
		}
		reg = prometheus.NewRegistry()
		reg.MustRegister(coll, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		coll.Instrument(&cfg)
	}
	pool, err := worker.New(js, cfg)
	if err != nil {
		return usageError{err}
	}
	httpClient := &http.Client{}
	defer httpClient.CloseIdleConnections()
	var reaper *groupReaper
	if slices.ContainsFunc(specs, func(s handlerSpec) bool { return !s.http }) {
		if reaper, err = startReaper(); err != nil {
			a.log.LogAttrs(ctx, slog.LevelWarn, "commands will outlive this worker if it is killed: "+err.Error())
		}
		defer func() {
			if err := reaper.close(); err != nil {
				a.log.LogAttrs(context.Background(), slog.LevelWarn, "process-group reaper", slog.String("error", err.Error()))
			}
		}()
	}
	for _, s := range specs {
		var h func(context.Context, *job.Job[json.RawMessage]) error
		if s.http {
			h = newHTTPHandler(httpClient, s.target, f.httpTimeout).handle
		} else {
			h = execHandler{command: s.target, stdout: a.stdout, log: a.log, reaper: reaper}.handle
		}
		if err := worker.Handle(pool, s.kind, h); err != nil {
			return usageError{err}
		}
	}
	// Say why the worker stops, and, without a connection, why stopping
	// may take longer than the jobs do. The lines are written before the
	// command returns, however fast the pool stops.
	logged := make(chan struct{})
	stopLog := context.AfterFunc(ctx, func() {
		defer close(logged)
		why := "stopping"
		var sig signalReceived
		if errors.As(context.Cause(ctx), &sig) {
			why = sig.Error() + "; stopping"
		}
		a.log.LogAttrs(context.Background(), slog.LevelInfo,
			fmt.Sprintf("%s: running jobs may finish for %s (--shutdown-timeout)", why, f.shutdownTimeout),
			slog.Duration("shutdown_timeout", f.shutdownTimeout))
		if !nc.IsConnected() {
			a.log.LogAttrs(context.Background(), slog.LevelWarn,
				"not connected to NATS: waiting for the connection to flush the acknowledgements of finished jobs before exiting")
		}
	})
	defer func() {
		if !stopLog() {
			<-logged
		}
	}()
	a.log.LogAttrs(ctx, slog.LevelInfo, "worker starting",
		slog.String("url", redactServers(nc.ConnectedUrl())), slog.Any("queues", slices.Sorted(maps.Keys(queues))),
		slog.Any("kinds", pool.Kinds()), slog.Int("concurrency", f.concurrency))

	// The endpoints outlive the pool's drain, so that /readyz says
	// "stopping" while running jobs finish: srvCtx ends after pool.Run.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	srvCtx, stopServer := context.WithCancel(context.WithoutCancel(ctx))
	defer stopServer()
	var served errgroup.Group
	if ln != nil {
		h := metrics.NewHandler(metrics.HandlerConfig{Gatherer: reg, Ready: pool.Ready})
		addr := ln.Addr().String()
		served.Go(func() error {
			err := metrics.Serve(srvCtx, ln, h)
			if srvCtx.Err() == nil {
				// The endpoints died under a running worker: stop it, so that
				// a supervisor restarts it rather than probing a closed port.
				stopRun()
				return fmt.Errorf("--metrics-listen %s: %w", addr, err)
			}
			if err != nil {
				a.log.LogAttrs(context.Background(), slog.LevelWarn, "metrics server shutdown", slog.String("error", err.Error()))
			}
			return nil
		})
		a.log.LogAttrs(ctx, slog.LevelInfo, "serving metrics", slog.String("addr", addr))
	}

	err = pool.Run(runCtx)
	stopServer()
	if serr := served.Wait(); serr != nil {
		return errors.Join(serr, err)
	}
	if err != nil && ctx.Err() == nil {
		return err
	} else if err != nil {
		return fmt.Errorf("shutdown: running jobs did not finish within --shutdown-timeout %s; they were killed and handed back for redelivery: %w", f.shutdownTimeout, err)
	}
	return nil
}

// check checks the flags whose values the worker package would refuse in
// its own terms (Config.MaxAttempts), or take zero as its default for.
func (f workerFlags) check() error {
	switch {
	case f.concurrency < 1:
		return usagef("--concurrency %d: use at least 1", f.concurrency)
	case f.maxAttempts < 1:
		return usagef("--max-attempts %d: use at least 1", f.maxAttempts)
	case f.timeout < 0:
		return usagef("--timeout %s: use a positive duration, or 0 for none", f.timeout)
	case f.unservedTimeout <= 0:
		return usagef("--unserved-timeout %s: use a positive duration", f.unservedTimeout)
	case f.maxTimeout < 0:
		return usagef("--max-timeout %s: use a positive duration, or 0 for no cap", f.maxTimeout)
	case f.httpTimeout <= 0:
		return usagef("--http-timeout %s: use a positive duration", f.httpTimeout)
	case f.shutdownTimeout <= 0:
		return usagef("--shutdown-timeout %s: use a positive duration", f.shutdownTimeout)
	case f.ackWait < time.Second:
		return usagef("--ack-wait %s: use at least 1s", f.ackWait)
	case f.retryInitial <= 0:
		return usagef("--retry-initial %s: use a positive duration", f.retryInitial)
	case f.retryMax <= 0:
		return usagef("--retry-max %s: use a positive duration", f.retryMax)
	case f.retryInitial > f.retryMax:
		return usagef("--retry-initial %s exceeds --retry-max %s: the first delay must not be longer than the longest", f.retryInitial, f.retryMax)
	case len(f.queues) == 0:
		return usagef("--queue is empty: name at least one queue")
	}
	for _, q := range f.queues {
		if err := job.ValidateQueue(q); err != nil {
			return usagef("--queue %q: %w", q, err)
		}
	}
	return nil
}

// validPort reports whether port is a TCP port number, or a service name
// such as http.
func validPort(port string) bool {
	if n, err := strconv.Atoi(port); err == nil {
		return n >= 0 && n <= 65535
	}
	_, err := net.LookupPort("tcp", port)
	return err == nil
}

// listenMetrics listens on the TCP address of --metrics-listen.
func listenMetrics(addr string) (net.Listener, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usagef("--metrics-listen %q: use host:port or :port, such as :9090", addr)
	}
	if !validPort(port) {
		return nil, usagef("--metrics-listen %q: the port must be a number from 0 to 65535", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	return ln, nil
}
