package wire

import "strings"

// Batches and workflows (docs/protocol.md, "Batches and workflows").
//
// A job of a batch or workflow carries one of these headers; the worker
// that settles it advances the batch's or workflow's counters (a counter
// stream, nats-server 2.12) and markers (a key-value bucket) before it
// acknowledges the job.
const (
	// Batch names the batch a job belongs to.
	Batch = "Jetjobs-Batch"
	// Workflow and Task name the workflow and the task a job runs.
	Workflow = "Jetjobs-Workflow"
	Task     = "Jetjobs-Task"
	// BatchCallback marks a batch's callback job: "success" or "complete",
	// with the batch's ID in CallbackBatch and its final counts (JSON of
	// total, succeeded, failed, dead) in BatchCounts.
	BatchCallback = "Jetjobs-Batch-Callback"
	CallbackBatch = "Jetjobs-Callback-Batch"
	BatchCounts   = "Jetjobs-Batch-Counts"
	// Incr is the server's counter increment header (a signed decimal).
	Incr = "Nats-Incr"
)

// Callback names of a batch.
const (
	CallbackSuccess  = "success"
	CallbackComplete = "complete"
)

// Counter names of a batch (the last token of its counter subjects).
const (
	CounterTotal     = "total"
	CounterRemaining = "remaining"
	CounterDead      = "dead"
	CounterFailed    = "failed"
)

// BatchCounterSubject is the subject of a batch's counter:
// <counterPrefix>.b.<batch>.<counter>.
func BatchCounterSubject(counterPrefix, batch, counter string) string {
	return counterPrefix + ".b." + batch + "." + counter
}

// TaskCounterSubject is the subject of the counter of a workflow task's
// dependencies that let it run: <counterPrefix>.w.<workflow>.<task>.
func TaskCounterSubject(counterPrefix, workflow, task string) string {
	return counterPrefix + ".w." + workflow + "." + task
}

// Keys of the flow bucket.

// BatchKey is the key of a batch's record.
func BatchKey(batch string) string { return "b." + batch }

// BatchFiredKey is the key of the marker that says a batch's callback was
// enqueued.
func BatchFiredKey(batch, callback string) string { return "b." + batch + ".fired." + callback }

// WorkflowKey is the key of a workflow's record.
func WorkflowKey(workflow string) string { return "w." + workflow }

// TaskDefKey is the key of a workflow task's definition.
func TaskDefKey(workflow, task string) string { return "w." + workflow + ".def." + task }

// TaskMarkKey is the key of the marker that says a task was enqueued or
// canceled: created once, by whoever comes first.
func TaskMarkKey(workflow, task string) string { return "w." + workflow + ".mark." + task }

// SettledKey is the key of the marker that says the flow step of a job's
// delivery is done: s.b.<batch>.<token> for a job of a batch,
// s.w.<workflow>.<token> for a task, <token> being SubjectToken of the
// job's ID. The flow is part of the key because a job ID may be used again
// in another batch.
func SettledKey(batch, workflow, token string) string {
	if batch != "" {
		return "s.b." + batch + "." + token
	}
	return "s.w." + workflow + "." + token
}

// Message IDs of flow counter increments and fired jobs. Each names what
// it counts, so a redelivered job's repeated step is not counted twice
// within the counter stream's duplicate window.

// BatchEndID is the message ID of a job's end in its batch's counter
// (what: "end", "dead", "failed").
func BatchEndID(batch, jobID, what string) string {
	return "b:" + batch + ":" + what + ":" + jobID
}

// TaskEdgeID is the message ID of dependency dep's count in task's counter.
func TaskEdgeID(workflow, task, dep string) string {
	return "w:" + workflow + ":" + task + ":" + dep
}

// CallbackJobID is the job ID of a batch's callback.
func CallbackJobID(batch, callback string) string { return "batch:" + batch + ":" + callback }

// TaskJobID is the job ID of a workflow task.
func TaskJobID(workflow, task string) string { return "wf:" + workflow + ":" + task }

// ParseTaskJobID splits a task's job ID; ok is false for other IDs.
func ParseTaskJobID(id string) (workflow, task string, ok bool) {
	rest, found := strings.CutPrefix(id, "wf:")
	if !found {
		return "", "", false
	}
	workflow, task, ok = strings.Cut(rest, ":")
	return workflow, task, ok
}
