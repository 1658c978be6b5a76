package main

import (
	"encoding/json"
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

func TestBenchBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "nope"},
		{"bench", "--runs", "0"},
		{"bench", "-s", "nats://127.0.0.1:1", "--sync-always"},
	} {
		if r := jetjobs(t, "", args...); r.Code != exitUsage {
			t.Errorf("jetjobs %s: exit %d, want %d (stderr %q)", strings.Join(args, " "), r.Code, exitUsage, r.Stderr)
		}
	}
}
