package bench

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Result is one scenario's outcome over one or more runs per side: the
// median run of each side by throughput, and their ratio. Its JSON form is
// what `jetjobs bench --json` prints.
type Result struct {
	Scenario Scenario `json:"scenario"`
	Jobs     int      `json:"jobs"`
	// Runs is how many times each side ran; the figures are medians.
	Runs       int     `json:"runs"`
	Seconds    float64 `json:"seconds"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	// RawJobsPerSec and Ratio (jobs_per_sec / raw_jobs_per_sec) are null
	// without a raw baseline.
	RawJobsPerSec *float64 `json:"raw_jobs_per_sec"`
	Ratio         *float64 `json:"ratio"`
	// Enqueue-to-start latency in milliseconds (concurrent and latency;
	// null otherwise).
	P50ms    *float64 `json:"p50_ms"`
	P90ms    *float64 `json:"p90_ms"`
	P99ms    *float64 `json:"p99_ms"`
	MaxMs    *float64 `json:"max_ms"`
	RawP50ms *float64 `json:"raw_p50_ms,omitempty"`
	RawP99ms *float64 `json:"raw_p99_ms,omitempty"`
	// Rate is the latency scenario's offered load in jobs/s, ProducerLagMs
	// how far its producer fell behind schedule at worst.
	Rate          int      `json:"rate,omitempty"`
	ProducerLagMs *float64 `json:"producer_lag_ms,omitempty"`
	// MaxRSSMB is the process's peak resident set size in the timed phase
	// (an embedded server's memory included).
	MaxRSSMB    float64  `json:"max_rss_mb"`
	RawMaxRSSMB *float64 `json:"raw_max_rss_mb,omitempty"`
	// AllocsPerJob counts heap allocations of the whole process per job
	// (an embedded server's included).
	AllocsPerJob    float64  `json:"allocs_per_job"`
	RawAllocsPerJob *float64 `json:"raw_allocs_per_job,omitempty"`
	// CPUMicrosPerJob is the process's CPU time per job in microseconds (an
	// embedded server's included); CPURatio is raw's over jetjobs', the
	// throughput ratio a machine with cores to spare for nothing else
	// would see.
	CPUMicrosPerJob    float64  `json:"cpu_us_per_job"`
	RawCPUMicrosPerJob *float64 `json:"raw_cpu_us_per_job,omitempty"`
	CPURatio           *float64 `json:"cpu_ratio,omitempty"`
	// ServerCPUMicrosPerJob is the CPU time per job of the server processes
	// named in Config.ServerPIDs (omitted without them).
	ServerCPUMicrosPerJob    *float64 `json:"server_cpu_us_per_job,omitempty"`
	RawServerCPUMicrosPerJob *float64 `json:"raw_server_cpu_us_per_job,omitempty"`
	Redelivered              int      `json:"redelivered"`

	// Jetjobs and Raw are the median runs.
	Jetjobs Measurement  `json:"-"`
	RawRun  *Measurement `json:"-"`
}

// Compare runs sc runs times on the jetjobs side and, if raw, as often on
// the raw side, alternating (raw first) so that noise from the machine
// falls on both alike, and returns the medians.
func (r *Runner) Compare(ctx context.Context, sc Scenario, raw bool, runs int) (Result, error) {
	runs = max(1, runs)
	var fw, rw []Measurement
	for range runs {
		if raw {
			m, err := r.Measure(ctx, sc, Raw)
			if err != nil {
				return Result{}, err
			}
			rw = append(rw, m)
		}
		m, err := r.Measure(ctx, sc, Jetjobs)
		if err != nil {
			return Result{}, err
		}
		fw = append(fw, m)
	}
	res := resultOf(median(fw), len(fw))
	if len(r.cfg.ServerPIDs) > 0 {
		res.ServerCPUMicrosPerJob = ptr(perJob(res.Jetjobs.ServerCPU, res.Jobs))
	}
	if sc == Latency {
		res.Rate = r.cfg.Rate
	}
	if raw {
		m := median(rw)
		res.RawRun = &m
		res.RawJobsPerSec = ptr(m.JobsPerSec())
		if m.JobsPerSec() > 0 {
			res.Ratio = ptr(round(res.JobsPerSec/m.JobsPerSec(), 3))
		}
		if m.Latency.Count > 0 {
			res.RawP50ms, res.RawP99ms = ms(m.Latency.P50), ms(m.Latency.P99)
		}
		res.RawMaxRSSMB = ptr(mb(m.PeakRSS))
		res.RawAllocsPerJob = ptr(round(float64(m.Allocs)/float64(max(1, m.Jobs)), 1))
		res.RawCPUMicrosPerJob = ptr(cpuPerJob(m))
		if len(r.cfg.ServerPIDs) > 0 {
			res.RawServerCPUMicrosPerJob = ptr(perJob(m.ServerCPU, m.Jobs))
		}
		if res.CPUMicrosPerJob > 0 {
			res.CPURatio = ptr(round(*res.RawCPUMicrosPerJob/res.CPUMicrosPerJob, 3))
		}
	}
	return res, nil
}

func resultOf(m Measurement, runs int) Result {
	res := Result{
		Scenario:        m.Scenario,
		Jobs:            m.Jobs,
		Runs:            runs,
		Seconds:         round(m.Elapsed.Seconds(), 3),
		JobsPerSec:      round(m.JobsPerSec(), 0),
		MaxRSSMB:        mb(m.PeakRSS),
		AllocsPerJob:    round(float64(m.Allocs)/float64(max(1, m.Jobs)), 1),
		CPUMicrosPerJob: cpuPerJob(m),
		Redelivered:     m.Redelivered,
		Jetjobs:         m,
	}
	if m.Latency.Count > 0 {
		res.P50ms, res.P90ms, res.P99ms, res.MaxMs = ms(m.Latency.P50), ms(m.Latency.P90), ms(m.Latency.P99), ms(m.Latency.Max)
	}
	if m.Scenario == Latency {
		res.ProducerLagMs = ms(m.ProducerLag)
	}
	return res
}

// median returns the run with the median throughput (for latency runs,
// the median p99: their throughput is the offered rate).
func median(ms []Measurement) Measurement {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b Measurement) int {
		if a.Scenario == Latency {
			return cmp.Compare(a.Latency.P99, b.Latency.P99)
		}
		return cmp.Compare(a.JobsPerSec(), b.JobsPerSec())
	})
	return s[len(s)/2]
}

func cpuPerJob(m Measurement) float64 { return perJob(m.CPU, m.Jobs) }

// perJob is d per job in microseconds.
func perJob(d time.Duration, jobs int) float64 {
	return round(float64(d)/float64(time.Microsecond)/float64(max(1, jobs)), 2)
}

func ptr[T any](v T) *T { return &v }

func ms(d time.Duration) *float64 { return ptr(round(float64(d)/float64(time.Millisecond), 3)) }

func mb(b uint64) float64 { return round(float64(b)/(1<<20), 1) }

func round(x float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
