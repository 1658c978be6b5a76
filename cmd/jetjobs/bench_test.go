package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

func TestBenchRawJSONRunsEveryScenario(t *testing.T) {
	out := ok(t, "bench", "--raw", "--json", "-n", "300", "--concurrency", "8", "--queues", "2", "--rate", "500", "--duration", "300ms")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"enqueue", "drain", "concurrent", "latency"}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want one JSON object per scenario:\n%s", len(lines), out)
	}
	for i, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, line)
		}
		if v["scenario"] != want[i] {
			t.Errorf("line %d: scenario %v, want %s", i, v["scenario"], want[i])
		}
		for _, k := range []string{"jobs", "seconds", "jobs_per_sec", "raw_jobs_per_sec", "ratio", "max_rss_mb"} {
			if n, ok := v[k].(float64); !ok || n <= 0 {
				t.Errorf("%s: %s = %v, want a positive number", want[i], k, v[k])
			}
		}
		for _, k := range []string{"p50_ms", "p99_ms"} {
			if _, ok := v[k]; !ok {
				t.Errorf("%s: no %s", want[i], k)
			}
		}
		if v["server"] != "embedded" || v["ack"] != "confirmed" {
			t.Errorf("%s: server %v, ack %v", want[i], v["server"], v["ack"])
		}
	}
}

func TestBenchAgainstAServerLeavesItsStreamsAlone(t *testing.T) {
	url, _ := startServerProc(t)
	ok(t, "enqueue", "-s", url, "email.send", `{"to":"a@b.c"}`)
	out := ok(t, "bench", "drain", "-s", url, "-n", "200", "--concurrency", "4")
	if !strings.Contains(out, "server: nats-server") || !strings.Contains(out, "drain") {
		t.Errorf("output:\n%s", out)
	}
	figures := queueFigures(t, url)
	if q, found := figures["default"]; !found || q.Pending != 1 {
		t.Errorf("the default queue's job was touched: %+v", figures)
	}
}

// --procs works the jobs in worker processes of their own (this binary
// again) against a server process, and --server-pid adds that server's
// CPU per job.
func TestBenchProcsAgainstAServerProcess(t *testing.T) {
	url, srv := startServerProc(t)
	out := ok(t, "bench", "drain", "concurrent", "--procs", "2", "--raw", "--json", "-n", "3000", "-c", "8",
		"-s", url, "--server-pid", strconv.Itoa(srv.Pid()))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want one per scenario:\n%s", len(lines), out)
	}
	for _, line := range lines {
		var v map[string]any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, line)
		}
		if v["procs"] != 2.0 || v["jobs"] != 3000.0 || v["redelivered"] != 0.0 {
			t.Errorf("%v: procs %v, jobs %v, redelivered %v; want 2, 3000, 0", v["scenario"], v["procs"], v["jobs"], v["redelivered"])
		}
		for _, k := range []string{"cpu_us_per_job", "raw_cpu_us_per_job", "allocs_per_job", "raw_allocs_per_job", "server_cpu_us_per_job", "raw_server_cpu_us_per_job"} {
			if n, ok := v[k].(float64); !ok || n <= 0 {
				t.Errorf("%v: %s = %v, want a positive number", v["scenario"], k, v[k])
			}
		}
	}
}

func TestBenchBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "nope"},
		{"bench", "--runs", "0"},
		{"bench", "-s", "nats://127.0.0.1:1", "--sync-always"},
		{"bench", "--procs", "-1"},
		{"bench", "--procs", "2"}, // every scenario: latency among them
		{"bench", "drain", "--procs", "2", "--profile-dir", "p"},
	} {
		if r := jetjobs(t, "", args...); r.Code != exitUsage {
			t.Errorf("jetjobs %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.Code, exitUsage, r.Stderr)
		}
	}
}
