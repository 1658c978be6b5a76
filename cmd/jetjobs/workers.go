package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetjobs/jetjobs/job"
)

func init() { register("", newWorkersCommand) }

func newWorkersCommand(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "workers",
		Short: "List the live worker processes and what they run",
		Long: `List the live worker pools of the namespace, one row each:

  HOST, PID   where the pool runs
  QUEUES      each queue it serves with its busy and total slots
  RUNNING     the jobs it runs now (ID and kind)
  STARTED     when the pool started; SEEN: when it last announced itself

Each pool announces itself every ` + job.PresenceInterval.String() + ` to the stream <stream>_WORKERS; a pool that
stops leaves the list at once, one that dies within ` + job.PresenceTTL.String() + ` (see docs/protocol.md).

--json prints the pools as docs/protocol.md describes them.`,
		Example: `  jetjobs workers
  jetjobs workers --json | jq '.[].running[].id'`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.workers(cmd.Context(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	a.addConnFlags(cmd)
	return cmd
}

func (a *app) workers(ctx context.Context, asJSON bool) error {
	nc, c, err := a.client(ctx, "workers")
	if err != nil {
		return err
	}
	defer nc.Close()
	ws, err := c.Workers(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		if ws == nil {
			ws = []job.WorkerInfo{}
		}
		return writeJSON(a.stdout, ws)
	}
	if len(ws) == 0 {
		fmt.Fprintf(a.stderr, "no live workers in namespace %s\n", c.Topology().Stream)
		return nil
	}
	now := time.Now()
	t := newTable(a.stdout, "HOST", "PID", "QUEUES", "RUNNING", "STARTED", "SEEN", "ID")
	for _, w := range ws {
		queues := make([]string, 0, len(w.Queues))
		for _, q := range w.Queues {
			queues = append(queues, fmt.Sprintf("%s %d/%d", q.Name, q.Busy, q.Concurrency))
		}
		running := make([]string, 0, len(w.Running))
		for _, r := range w.Running {
			running = append(running, r.ID+" ("+r.Kind+")")
		}
		run := "idle"
		if len(running) > 0 {
			run = truncate(strings.Join(running, ", "), 60)
		}
		t.row(w.Host, strconv.Itoa(w.PID), strings.Join(queues, ", "), run,
			age(now.Sub(w.StartedAt))+" ago", age(now.Sub(w.LastSeen))+" ago", w.ID)
	}
	return t.flush()
}
