// Package faultpoint lets the fault suite (integration/) stop a worker
// process at an exact step of settling a job of a batch or workflow. Hook
// is nil in every program but the suite's test worker, so each point costs
// a nil check, and only on the path of batch and workflow jobs.
package faultpoint

// Points of the flow step, in order.
const (
	BeforeFlow = "before-flow" // the job's outcome is decided and its state stored; nothing counted yet
	MidFlow    = "mid-flow"    // counted in its batch or workflow; callbacks and dependents not enqueued yet
	AfterFlow  = "after-flow"  // the flow step is done; the job is not acknowledged yet
)

// Hook, if set, is called at each point with the job's ID.
var Hook func(point, jobID string)

// Reach calls Hook, if set.
func Reach(point, jobID string) {
	if Hook != nil {
		Hook(point, jobID)
	}
}
