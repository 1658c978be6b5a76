package job_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jetjobs/jetjobs/job"
)

func TestWorkflowValidate(t *testing.T) {
	other := job.NewWorkflow("other")
	foreign := other.Task("x", "k", nil)
	for _, tc := range []struct {
		name  string
		build func() *job.Workflow
		want  string // in the error; "" for valid
	}{
		{"diamond", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			a := wf.Task("a", "k", nil)
			b := wf.Task("b", "k", nil, job.After(a))
			c := wf.Task("c", "k", nil, job.After(a))
			wf.Task("d", "k", nil, job.After(b, c), job.RunAnyway())
			return wf
		}, ""},
		{"bad workflow ID", func() *job.Workflow { wf := job.NewWorkflow("w.1"); wf.Task("a", "k", nil); return wf }, `workflow ID "w.1"`},
		{"no tasks", func() *job.Workflow { return job.NewWorkflow("w") }, "has no tasks"},
		{"bad task name", func() *job.Workflow { wf := job.NewWorkflow("w"); wf.Task("a b", "k", nil); return wf }, `task name "a b"`},
		{"duplicate name", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			wf.Task("a", "k", nil)
			wf.Task("a", "k", nil)
			return wf
		}, `two tasks are named "a"`},
		{"unknown dependency", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			wf.Task("a", "k", nil, job.AfterNamed("nope"))
			return wf
		}, `depends on "nope"`},
		{"foreign task", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			wf.Task("a", "k", nil, job.After(foreign))
			return wf
		}, "another workflow"},
		{"self", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			wf.Task("a", "k", nil, job.AfterNamed("a"))
			return wf
		}, "depends on itself"},
		{"cycle", func() *job.Workflow {
			wf := job.NewWorkflow("w")
			a := wf.Task("a", "k", nil, job.AfterNamed("c"))
			b := wf.Task("b", "k", nil, job.After(a))
			wf.Task("c", "k", nil, job.After(b))
			return wf
		}, "cycle: a -> b -> c -> a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.build().Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, job.ErrInvalidWorkflow) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalidWorkflow containing %q", err, tc.want)
			}
		})
	}
}

func TestTopologyValidatesFlowNames(t *testing.T) {
	for _, tc := range []struct {
		topo job.Topology
		want string
	}{
		{job.Topology{CounterPrefix: "jobs.count"}, "overlaps"},
		{job.Topology{FlowBucket: "a.b"}, "FlowBucket"},
		{job.Topology{FlowBucket: "JOBS_STATE"}, "must differ"},
		{job.Topology{CounterStream: "JOBS"}, "must differ"},
		{job.Topology{FlowMaxAge: -1}, "FlowMaxAge"},
	} {
		if err := tc.topo.Validate(); !errors.Is(err, job.ErrInvalidOption) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want ErrInvalidOption containing %q", tc.topo, err, tc.want)
		}
	}
	if err := (job.Topology{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
