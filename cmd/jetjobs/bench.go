package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jetjobs/jetjobs/internal/bench"
	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newBenchCommand) }

type benchFlags struct {
	jobs, concurrency, payloadBytes, queues int
	rate                                    int
	duration, work                          time.Duration
	runs                                    int
	raw, json, rawHeaders                   bool
	ackAsync, metrics, results              bool
	fetchBatch, enqueueBatch, limit         int
	memory, syncAlways                      bool
	replicas                                int
	profileDir                              string
	procs                                   int
	serverPIDs                              []int
	// workerProcess and workerQueues make this process one of the worker
	// processes of a parent's --procs (hidden flags).
	workerProcess, workerQueues string
}

func newBenchCommand(a *app) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "bench [SCENARIO]...",
		Short: "Measure jetjobs, and plain nats.go with --raw, on the same server",
		Long: `Measure how fast jetjobs enqueues and works jobs. Scenarios (default: all, in
this order):

  enqueue     -n jobs through the enqueue-many API
  drain       -n jobs enqueued first, then worked to the end
  concurrent  -n jobs enqueued and worked at once
  latency     an open-loop producer at --rate jobs/s for --duration;
              enqueue-to-start latency p50/p90/p99/max

The handler is a no-op on typed arguments decoded from JSON, with the default
middleware; --work makes it wait instead, like an I/O-bound job.

--raw runs each scenario a second time as a plain nats.go program (publish
async, Consume, decode the same JSON, Ack) against the same server, and prints
both and their ratio. --runs repeats both sides, alternating, and reports the
medians: figures on a shared machine are noisy.

Without -s/--server, bench starts an embedded server in this process (a
temporary file store, removed at the end), so its memory counts in max RSS;
it does not read NATS_URL. Point -s/--server at a separate server to measure
the workers alone. bench creates the stream JETJOBS_BENCH (subjects
jetjobs_bench.>) and its companions (JETJOBS_BENCH_DLQ, JETJOBS_BENCH_SCHEDULES
and the buckets' streams KV_JETJOBS_BENCH_CANCELED and KV_JETJOBS_BENCH_STATE) on the server and
deletes them all at the end; it never touches other streams.

--procs N works the jobs of drain and concurrent in N worker processes of their
own (this program, started again), all bound to the same consumers, as an
installation scales out; this process only enqueues. CPU per job, allocations
and max RSS are then the sums over the processes. Point -s at a cluster (and
use --replicas 3) to measure the workers against it.

--latency's default rate is half of the concurrent scenario's throughput when
that ran before it, else 10000/s. --json prints one JSON object per scenario
and nothing else on stdout.`,
		Example: `  jetjobs bench --raw
  jetjobs bench drain concurrent --raw --runs 5 --json
  jetjobs bench drain -n 1000000 --raw
  jetjobs bench drain concurrent --results --raw
  jetjobs bench latency --results --rate 500 --duration 10s
  jetjobs bench drain -n 100000 --concurrency 10000 --work 100ms
  jetjobs bench drain concurrent --procs 4 --raw -s nats://127.0.0.1:4222
  jetjobs bench --server nats://127.0.0.1:4222 --raw --profile-dir ./profiles`,
		Args: func(cmd *cobra.Command, args []string) error {
			for _, s := range args {
				if _, err := bench.ParseScenario(s); err != nil {
					return usageError{err}
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.bench(cmd, args, f)
		},
	}
	fl := cmd.Flags()
	fl.IntVarP(&f.jobs, "jobs", "n", 100_000, "jobs per scenario (enqueue, drain, concurrent)")
	fl.IntVarP(&f.concurrency, "concurrency", "c", 128, "jobs run at once per queue")
	fl.IntVar(&f.payloadBytes, "payload-bytes", 128, "size of each job's JSON arguments")
	fl.IntVar(&f.queues, "queues", 1, "queues the jobs are spread over")
	fl.IntVar(&f.rate, "rate", 0, "latency: jobs/s offered (default: half the concurrent throughput, else 10000)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "latency: how long the producer runs")
	fl.DurationVar(&f.work, "work", 0, "time each handler waits, like an I/O-bound job (0: a no-op)")
	fl.IntVar(&f.runs, "runs", 1, "runs of each scenario and side; medians are reported")
	fl.BoolVar(&f.raw, "raw", false, "also run a plain nats.go baseline and print the ratio")
	fl.BoolVar(&f.rawHeaders, "raw-headers", false, "the raw baseline publishes the headers jetjobs puts on every job (job ID and message ID)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per scenario")
	fl.BoolVar(&f.ackAsync, "ack-async", false, "acknowledge without waiting for the server's confirmation (worker Config.AckAsync)")
	fl.BoolVar(&f.metrics, "metrics", false, "instrument the pool with the Prometheus collector (package metrics), to measure its cost")
	fl.BoolVar(&f.results, "results", false, "keep every job's state and result (job.KeepResult); latency then measures enqueue-to-await-return, each job awaited on its own (use a modest --rate)")
	fl.IntVar(&f.fetchBatch, "fetch-batch", 0, "most jobs one pull asks for (worker Config.FetchBatch; 0: its default)")
	fl.IntVar(&f.enqueueBatch, "enqueue-batch", 1000, "jobs per EnqueueMany call")
	fl.IntVar(&f.limit, "limit", 0, "jobs of a queue pending acknowledgement at once (the consumer's MaxAckPending; 0: unlimited)")
	fl.BoolVar(&f.memory, "memory", false, "keep the benchmark streams in memory instead of files")
	fl.BoolVar(&f.syncAlways, "sync-always", false, "embedded server: fsync every write")
	fl.IntVar(&f.replicas, "replicas", 1, "replicas of the benchmark streams (needs a cluster behind --server)")
	fl.StringVar(&f.profileDir, "profile-dir", "", "write CPU and heap profiles of each timed phase to this directory")
	fl.IntVar(&f.procs, "procs", 0, "drain, concurrent: work the jobs in this many worker processes of their own (0: in this process)")
	fl.StringVar(&f.workerProcess, workerProcessFlag, "", "")
	fl.StringVar(&f.workerQueues, workerQueuesFlag, "", "")
	fl.IntSliceVar(&f.serverPIDs, "server-pid", nil, "process IDs of the server(s) on this machine: their CPU per job is reported too (Linux)")
	_ = fl.MarkHidden(workerProcessFlag)
	_ = fl.MarkHidden(workerQueuesFlag)
	a.addServerFlags(cmd)
	// bench measures an embedded server unless told otherwise: neither the
	// nats CLI's default URL nor NATS_URL applies.
	server := cmd.PersistentFlags().Lookup("server")
	server.DefValue = ""
	server.Usage = "NATS server URLs to measure against, comma-separated (default: an embedded server in this process; NATS_URL is not read)"
	return cmd
}

// check checks the flags, which bench.Config would take as "the default"
// when zero, or refuse in its own terms.
func (f benchFlags) check(changed func(string) bool) error {
	atLeast := func(flag string, v, least int) error {
		if v < least {
			return usagef("%s %d: use at least %d", flag, v, least)
		}
		return nil
	}
	for _, c := range []struct {
		flag     string
		v, least int
	}{
		{"-n/--jobs", f.jobs, 1}, {"-c/--concurrency", f.concurrency, 1}, {"--queues", f.queues, 1},
		{"--payload-bytes", f.payloadBytes, bench.MinPayloadBytes}, {"--runs", f.runs, 1},
		{"--enqueue-batch", f.enqueueBatch, 1}, {"--limit", f.limit, 0}, {"--fetch-batch", f.fetchBatch, 0},
		{"--procs", f.procs, 0},
	} {
		if err := atLeast(c.flag, c.v, c.least); err != nil {
			return err
		}
	}
	switch {
	case changed("rate") && f.rate < 1:
		return usagef("--rate %d: use at least 1 job/s (leave it out for half the concurrent throughput)", f.rate)
	case f.duration <= 0:
		return usagef("--duration %s: use a positive duration", f.duration)
	case f.work < 0:
		return usagef("--work %s: use a duration of 0 or more", f.work)
	case f.replicas < 1 || f.replicas > 5:
		return usagef("--replicas %d: use 1 to 5", f.replicas)
	}
	return nil
}

// benchLine is one scenario's result as --json prints it: the figures and
// the set-up they were measured with.
type benchLine struct {
	bench.Result
	Server        string `json:"server"`
	ServerVersion string `json:"server_version"`
	Storage       string `json:"storage"`
	Replicas      int    `json:"replicas"`
	Ack           string `json:"ack"`
	Concurrency   int    `json:"concurrency"`
	Queues        int    `json:"queues"`
	PayloadBytes  int    `json:"payload_bytes"`
	WorkMs        int64  `json:"work_ms"`
	FetchBatch    int    `json:"fetch_batch"` // 0: the pool's default
	Limit         int    `json:"limit"`       // 0: unlimited
	SyncAlways    bool   `json:"sync_always"`
	Results       bool   `json:"results"`
	// Procs is how many worker processes worked the jobs (--procs); 0: this one.
	Procs int `json:"procs"`
}

func (a *app) bench(cmd *cobra.Command, args []string, f benchFlags) error {
	ctx := cmd.Context()
	scenarios := bench.Scenarios
	if len(args) > 0 {
		scenarios = nil
		for _, s := range args {
			sc, _ := bench.ParseScenario(s) // checked by Args
			scenarios = append(scenarios, sc)
		}
	}
	external := cmd.Flags().Changed("server")
	if external && f.syncAlways {
		return usagef("--sync-always configures the embedded server; set sync_interval in your server's configuration instead")
	}
	if err := f.check(cmd.Flags().Changed); err != nil {
		return err
	}
	if f.procs > 0 {
		for _, sc := range scenarios {
			if sc == bench.Latency {
				return usagef("--procs %d: the latency scenario works its jobs in this process; name the scenarios, such as: bench drain concurrent --procs %d", f.procs, f.procs)
			}
		}
		if f.profileDir != "" {
			return usagef("--profile-dir profiles this process alone; leave it out with --procs")
		}
	}
	log := a.log
	if !cmd.Flags().Changed("log-level") {
		log = slog.New(atLeast{a.log.Handler(), slog.LevelWarn}) // keep start and stop lines of every run out
	}

	var (
		connect func() (*nats.Conn, error)
		where   string
		version string
		url     string // the server's URLs, for worker processes
	)
	if external {
		connect = func() (*nats.Conn, error) {
			nc, _, err := a.connect(ctx, "bench", false)
			return nc, err
		}
		where = redactServers(a.conn.server)
		url = a.conn.server
	} else {
		store, err := os.MkdirTemp("", "jetjobs-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(store)
		srv, err := startServer(ctx, &server.Options{
			Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: store,
			NoSigs: true, ServerName: "jetjobs-bench", SyncAlways: f.syncAlways,
		}, log)
		if err != nil {
			return err
		}
		defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
		url = srv.ClientURL()
		connect = func() (*nats.Conn, error) { return nats.Connect(url, nats.Name("jetjobs bench")) }
		sync := "fsync every 2m0s"
		if f.syncAlways {
			sync = "fsync every write"
		}
		where = fmt.Sprintf("embedded (in this process, %s over TCP, store %s, %s)", url, store, sync)
	}

	storage := "file"
	if f.memory {
		storage = "memory"
	}
	var bar *progress
	phase := ""
	clearBar := func() {
		if bar != nil {
			fmt.Fprint(a.stderr, "\r\x1b[K")
			bar = nil
		}
	}
	cfg := bench.Config{
		Jobs: f.jobs, Concurrency: f.concurrency, PayloadBytes: f.payloadBytes, Queues: f.queues,
		Rate: f.rate, Duration: f.duration, Work: f.work, AckAsync: f.ackAsync, Metrics: f.metrics, Results: f.results,
		FetchBatch: f.fetchBatch, EnqueueBatch: f.enqueueBatch, RawHeaders: f.rawHeaders, Limit: f.limit,
		Topology:   job.Topology{MemoryStorage: f.memory, Replicas: f.replicas},
		Logger:     log,
		ProfileDir: f.profileDir,
		Procs:      f.procs,
		ServerPIDs: f.serverPIDs,
	}
	if f.workerProcess != "" {
		return bench.ServeWorker(ctx, connect, cfg, bench.Side(f.workerProcess), strings.Split(f.workerQueues, ","), a.stdin, a.stdout)
	}
	if f.procs > 0 {
		spawn, err := a.workerProcessCommand(cmd, url)
		if err != nil {
			return err
		}
		cfg.Spawn = spawn
	}
	if a.stderrTTY && !f.json {
		cfg.Progress = func(ph string, done, total int) {
			if ph != phase || bar == nil || bar.total != total {
				clearBar()
				bar, phase = newProgress(a.stderr, true, ph, total), ph
			}
			bar.set(done)
		}
	}
	if f.profileDir != "" {
		if err := os.MkdirAll(f.profileDir, 0o755); err != nil {
			return fmt.Errorf("--profile-dir: %w", err)
		}
	}
	runner, err := bench.NewRunner(ctx, connect, cfg)
	if err != nil {
		if external {
			return err
		}
		return fmt.Errorf("set up the benchmark: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Close(cctx)
	}()
	cfg = runner.Config()
	if nc, err := connect(); err == nil {
		version = nc.ConnectedServerVersion()
		nc.Close()
	}
	ack := "confirmed"
	if f.ackAsync {
		ack = "async"
	}
	if f.metrics {
		ack += " (metrics collector on)"
	}
	if f.results {
		ack += " (results kept; latency is enqueue-to-await-return)"
	}

	if !f.json {
		fmt.Fprintf(a.stdout, "server: nats-server %s, %s\n", version, where)
		fmt.Fprintf(a.stdout, "setup:  %s × concurrency %d, %d-byte payloads, %s acks, %s storage, R%d, %s\n\n",
			plural(cfg.Queues, "queue"), cfg.Concurrency, cfg.PayloadBytes, ack, storage, cfg.Topology.Replicas, runsNote(f.runs))
		fmt.Fprintln(a.stdout, benchHeader(f.raw))
	}
	concurrentRate := 0.0
	for _, sc := range scenarios {
		if sc == bench.Latency && !cmd.Flags().Changed("rate") {
			rate := 10_000
			if concurrentRate > 0 {
				rate = max(1, int(concurrentRate/2))
			}
			runner.SetRate(rate)
		}
		res, err := runner.Compare(ctx, sc, f.raw, f.runs)
		clearBar()
		if err != nil {
			return fmt.Errorf("%s: %w", sc, err)
		}
		if sc == bench.Concurrent {
			concurrentRate = res.JobsPerSec
		}
		if f.json {
			server := "embedded"
			if external {
				server = redactServers(a.conn.server)
			}
			line := benchLine{
				Result: res, Server: server, ServerVersion: version, Storage: storage,
				Replicas: cfg.Topology.Replicas, Ack: ack, Concurrency: cfg.Concurrency, Queues: cfg.Queues,
				PayloadBytes: cfg.PayloadBytes, WorkMs: cfg.Work.Milliseconds(),
				FetchBatch: cfg.FetchBatch, Limit: cfg.Limit, SyncAlways: f.syncAlways, Results: f.results,
				Procs: res.Jetjobs.Procs,
			}
			b, err := json.Marshal(line)
			if err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, string(b))
			continue
		}
		fmt.Fprintln(a.stdout, benchRow(res, f.raw))
	}
	return nil
}

// The hidden flags of a worker process of --procs.
const (
	workerProcessFlag = "worker-process"
	workerQueuesFlag  = "worker-queues"
)

// benchParentOnly are the flags of bench that a worker process of --procs
// does not take from its parent: what to run and how to report it.
var benchParentOnly = map[string]bool{
	"procs": true, "server-pid": true, "runs": true, "json": true, "raw": true, "profile-dir": true,
	"rate": true, "duration": true, "server": true, "sync-always": true, workerProcessFlag: true, workerQueuesFlag: true,
}

// workerProcessCommand returns bench.Config.Spawn for --procs: this
// program again, as `bench --worker-process SIDE --worker-queues Q,...`
// with the parent's other flags and the server at url.
func (a *app) workerProcessCommand(cmd *cobra.Command, url string) (func(bench.Side, []string) *exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--procs starts this program again, but cannot find it: %w", err)
	}
	var args []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if !benchParentOnly[fl.Name] {
			args = append(args, "--"+fl.Name+"="+fl.Value.String())
		}
	})
	return func(side bench.Side, queues []string) *exec.Cmd {
		c := exec.Command(exe, append([]string{"bench", "--server=" + url,
			"--" + workerProcessFlag + "=" + string(side), "--" + workerQueuesFlag + "=" + strings.Join(queues, ",")}, args...)...)
		c.Stderr = a.stderr
		return c
	}, nil
}

func runsNote(runs int) string {
	if runs == 1 {
		return "1 run"
	}
	return fmt.Sprintf("medians of %d runs", runs)
}

const benchRowFormat = "%-11s %9s %8s %9s %10s %6s %8s %8s %9s %9s %8s %8s"

func benchHeader(raw bool) string {
	if !raw {
		return strings.TrimRight(fmt.Sprintf(benchRowFormat, "scenario", "jobs", "seconds", "jobs/s", "", "", "cpu/job", "", "p50", "p99", "max", "max RSS"), " ")
	}
	return fmt.Sprintf(benchRowFormat, "scenario", "jobs", "seconds", "jobs/s", "raw jobs/s", "ratio", "cpu/job", "raw cpu", "p50", "p99", "max", "max RSS")
}

func benchRow(r bench.Result, raw bool) string {
	dash := func(v *float64, format string) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf(format, *v)
	}
	rawRate, ratio, rawCPU := "", "", ""
	if raw {
		rawRate, ratio, rawCPU = dash(r.RawJobsPerSec, "%.0f"), dash(r.Ratio, "%.2fx"), dash(r.RawCPUMicrosPerJob, "%.1fµs")
	}
	rss := fmt.Sprintf("%.0f MB", r.MaxRSSMB)
	if r.MaxRSSMB == 0 {
		rss = "-"
	}
	s := fmt.Sprintf(benchRowFormat, r.Scenario, fmt.Sprint(r.Jobs), fmt.Sprintf("%.2f", r.Seconds),
		fmt.Sprintf("%.0f", r.JobsPerSec), rawRate, ratio, fmt.Sprintf("%.1fµs", r.CPUMicrosPerJob), rawCPU,
		dash(r.P50ms, "%.2fms"), dash(r.P99ms, "%.2fms"), dash(r.MaxMs, "%.1fms"), rss)
	var notes []string
	if r.Scenario == bench.Latency {
		notes = append(notes, fmt.Sprintf("at %d/s", r.Rate))
		if raw && r.RawP50ms != nil {
			notes = append(notes, fmt.Sprintf("raw p50 %.2fms p99 %.2fms", *r.RawP50ms, *r.RawP99ms))
		}
	}
	if r.Redelivered > 0 {
		notes = append(notes, fmt.Sprintf("%d redelivered", r.Redelivered))
	}
	if len(notes) > 0 {
		s += "  (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

// atLeast is a handler that drops records below min.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{h.Handler.WithAttrs(attrs), h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{h.Handler.WithGroup(name), h.min}
}
