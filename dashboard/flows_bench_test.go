package dashboard_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
)

// BenchmarkFlowPages measures the batches-and-workflows pages with 1,000
// batches and 1,000 workflows in the bucket, and a workflow of 1,002
// tasks (one fans out to 1,000 that fan in to one):
//
//	go test -run '^$' -bench FlowPages -benchtime 20x ./dashboard/
func BenchmarkFlowPages(b *testing.B) {
	_, js, c := startNamespace(b)
	ctx := context.Background()
	for i := range 1000 {
		if _, err := c.EnqueueBatch(ctx, job.Batch{ID: fmt.Sprintf("b%04d", i), OnComplete: &job.Request{Kind: "done"}}, job.Request{Kind: "part"}, job.Request{Kind: "part"}); err != nil {
			b.Fatal(err)
		}
		wf := job.NewWorkflow(fmt.Sprintf("w%04d", i))
		a := wf.Task("a", "step", nil)
		wf.Task("b", "step", nil, job.After(a))
		if err := c.StartWorkflow(ctx, wf); err != nil {
			b.Fatal(err)
		}
	}
	wide := job.NewWorkflow("wide")
	root := wide.Task("split", "split", nil)
	var chunks []*job.Task
	for i := range 1000 {
		chunks = append(chunks, wide.Task(fmt.Sprintf("chunk-%d", i), "chunk", nil, job.After(root)))
	}
	wide.Task("summary", "summary", nil, job.After(chunks...))
	if err := c.StartWorkflow(ctx, wide); err != nil {
		b.Fatal(err)
	}
	h, err := dashboard.New(js, dashboard.Config{})
	if err != nil {
		b.Fatal(err)
	}
	web := httptest.NewServer(h)
	defer web.Close()
	hc := web.Client()
	for _, path := range []string{"/flows", "/batches/b0500", "/workflows/w0500", "/workflows/wide"} {
		b.Run(path, func(b *testing.B) {
			for b.Loop() {
				resp, err := hc.Get(web.URL + path)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: status %d", path, resp.StatusCode)
				}
			}
		})
	}
}
