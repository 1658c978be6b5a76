package dashboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// The overview shows each queue's counts, and its live refresh picks up a
// new job without a reload.
func TestBrowserOverviewCounts(t *testing.T) {
	e := newEnv(t, dashboard.Config{Refresh: time.Second})
	for i := range 3 {
		e.enqueue("email.send", map[string]int{"n": i}, job.Queue("mail"))
	}
	e.enqueue("report.build", nil, job.Queue("reports"))
	for i := range 2 {
		e.deadLetter(fmt.Sprintf("d%d", i), "mail", "email.send", []byte(`{}`), job.ReasonFailed, "smtp down", nil)
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/")), chromedp.WaitVisible(css("#queues")))
	if got := text(t, ctx, `tr[data-queue="mail"] td.pending`); got != "3" {
		t.Fatalf("mail pending = %q, want 3", got)
	}
	if got := text(t, ctx, `tr[data-queue="mail"] td.dead`); got != "2" {
		t.Fatalf("mail dead = %q, want 2", got)
	}
	if got := text(t, ctx, `tr[data-queue="reports"] td.pending`); got != "1" {
		t.Fatalf("reports pending = %q, want 1", got)
	}
	if got := text(t, ctx, "#total-pending"); got != "4" {
		t.Fatalf("total pending = %q, want 4", got)
	}
	e.enqueue("email.send", nil, job.Queue("mail"))
	do(t, ctx, chromedp.WaitVisible(css(`tr[data-queue="mail"] td.pending`)))
	waitJS(t, ctx, `document.querySelector('tr[data-queue="mail"] td.pending').textContent === "4"`, "live refresh of the new job")

	// A hidden tab does not refresh; shown again, it refreshes at once.
	eval[bool](t, ctx, `(Object.defineProperty(document, 'hidden', {configurable: true, get: () => true}), document.dispatchEvent(new Event('visibilitychange')), true)`)
	before := e.live.Load()
	select {
	case <-time.After(3500 * time.Millisecond): // three refresh periods and a half
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	if n := e.live.Load() - before; n > 1 { // one may have been under way
		t.Fatalf("a hidden tab refreshed %d times", n)
	}
	e.enqueue("email.send", nil, job.Queue("mail"))
	eval[bool](t, ctx, `(Object.defineProperty(document, 'hidden', {configurable: true, get: () => false}), document.dispatchEvent(new Event('visibilitychange')), true)`)
	waitJS(t, ctx, `document.querySelector('tr[data-queue="mail"] td.pending').textContent === "5"`, "refresh when the tab is shown again")
}

// The overview charts what the workers did since it was first read, and
// counts the live workers.
func TestBrowserOverviewChartsActivity(t *testing.T) {
	e := newEnv(t, dashboard.Config{Refresh: time.Second})
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 8}, "reports": {Concurrency: 2}}}, func(p *worker.Pool) {
		if err := worker.Handle(p, "image.resize", func(_ context.Context, j *job.Job[map[string]int]) error {
			if j.Args["n"]%10 == 0 {
				return job.Permanent(errors.New("unsupported format"))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	e.enqueue("report.build", nil, job.Queue("reports"), job.In(time.Hour))
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/")), chromedp.WaitVisible(css("#queues"))) // the first sample
	for i := range 200 {
		e.enqueue("image.resize", map[string]int{"n": i})
	}
	waitJS(t, ctx, `document.querySelector('tr[data-queue="default"] svg title').textContent.startsWith("last hour: 200 deliveries, 20 dead-lettered")`, "the chart of the 200 jobs")
	if got := text(t, ctx, "#live-workers"); got != "1" {
		t.Fatalf("live workers = %q", got)
	}
	if got := text(t, ctx, `tr[data-queue="default"] td.dead`); got != "20" {
		t.Fatalf("dead = %q", got)
	}
	screenshot(t, ctx, "overview")
}

// Pausing a queue with its button pauses its consumer, as `jetjobs queues`
// reads it; resuming resumes it.
func TestBrowserPauseAndResumeQueue(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"mail": {}}}, func(p *worker.Pool) {
		if err := worker.Handle(p, "email.send", func(context.Context, *job.Job[struct{}]) error { return nil }); err != nil {
			t.Fatal(err)
		}
	})
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/queues/mail")), chromedp.Click(css("#pause")))
	waitFlash(t, ctx, "Paused queue mail until resumed")
	stats, err := e.client.Inspector().Queue(context.Background(), "mail")
	if err != nil || !stats.Paused || !stats.PausedUntil.IsZero() {
		t.Fatalf("after the pause button: %+v, %v", stats, err)
	}
	if got := text(t, ctx, "#q-state"); got != "paused" {
		t.Fatalf("state shown = %q", got)
	}
	screenshot(t, ctx, "queue")
	do(t, ctx, chromedp.Click(css("#resume")))
	waitFlash(t, ctx, "Resumed queue mail")
	stats, err = e.client.Inspector().Queue(context.Background(), "mail")
	if err != nil || stats.Paused {
		t.Fatalf("after the resume button: %+v, %v", stats, err)
	}
	// A pause with an end time.
	do(t, ctx,
		chromedp.SetValue(css(`select[name="for"]`), "1h"),
		chromedp.Click(css("#pause")))
	waitFlash(t, ctx, "Paused queue mail until 2")
	stats, _ = e.client.Inspector().Queue(context.Background(), "mail")
	if !stats.Paused || time.Until(stats.PausedUntil) < 50*time.Minute || time.Until(stats.PausedUntil) > 61*time.Minute {
		t.Fatalf("pause for 1h: %+v", stats)
	}
}

// Replaying a dead letter from its page queues the job again, and a worker
// runs it.
func TestBrowserReplayDeadLetterRunsIt(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	ran := make(chan string, 1)
	e.pool(worker.Config{}, func(p *worker.Pool) {
		if err := worker.Handle(p, "invoice.send", func(_ context.Context, j *job.Job[map[string]string]) error {
			ran <- j.ID
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	seq := e.deadLetter("inv-42", "default", "invoice.send", []byte(`{"invoice":"42"}`), job.ReasonFailed, "payment provider timed out", nil)
	e.deadLetter("inv-43", "default", "invoice.send", []byte(`{"invoice":"43"}`), job.ReasonMaxDeliveries, "worker died", nil)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/dead-letters")), chromedp.WaitVisible(css("#dead-letters")))
	screenshot(t, ctx, "dead-letters")
	do(t, ctx, chromedp.Navigate(e.url("/dead-letters/"+itoa(seq))), chromedp.WaitVisible(css("#replay")))
	if got := text(t, ctx, "#dl-error"); got != "payment provider timed out" {
		t.Fatalf("error shown = %q", got)
	}
	screenshot(t, ctx, "dead-letter")
	do(t, ctx, chromedp.Click(css("#replay")))
	waitFlash(t, ctx, "Replayed dead letter")
	select {
	case id := <-ran:
		if id != "inv-42" {
			t.Fatalf("ran %q", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no worker ran the replayed job")
	}
	if _, err := e.client.DeadLetterAt(context.Background(), seq); !errors.Is(err, job.ErrDeadLetterNotFound) {
		t.Fatalf("the replayed dead letter is still there: %v", err)
	}
}

// "Replay all matching" states the exact count and replays only the dead
// letters there were when it was confirmed.
func TestBrowserBulkReplayFilter(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	for i := range 5 {
		e.deadLetter(fmt.Sprintf("a-%d", i), "mail", "email.send", []byte(`{}`), job.ReasonFailed, "mailbox full", nil)
	}
	for i := range 3 {
		e.deadLetter(fmt.Sprintf("b-%d", i), "mail", "email.bounce", []byte(`{}`), job.ReasonFailed, "mailbox full", nil)
	}
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/dead-letters?kind=email.send")), chromedp.Click(css("#replay-matching")), chromedp.WaitVisible(css("#confirm")))
	if got := text(t, ctx, "#confirm-count"); got != "5" {
		t.Fatalf("confirmation count = %q, want 5", got)
	}
	mustContain(t, text(t, ctx, "#confirm-text"), "kind email.send")
	screenshot(t, ctx, "confirm")
	late := e.deadLetter("a-late", "mail", "email.send", []byte(`{}`), job.ReasonFailed, "mailbox full", nil)
	do(t, ctx, chromedp.Click(css("#confirm")))
	waitFlash(t, ctx, "Replayed 5 dead letters")
	left, err := e.client.DeadLetters(context.Background(), job.DeadLetterFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, dl := range left {
		ids = append(ids, dl.ID)
		if dl.Kind == "email.send" && dl.Seq != late {
			t.Fatalf("dead letter %s of the filter was not replayed", dl.ID)
		}
	}
	if len(left) != 4 {
		t.Fatalf("left %v; want the 3 of the other kind and the one that arrived after the confirmation", ids)
	}
	page, err := e.client.PendingJobs(context.Background(), "mail", job.JobFilter{Kind: "email.send"})
	if err != nil || len(page.Jobs) != 5 {
		t.Fatalf("pending after replay: %d, %v", len(page.Jobs), err)
	}
	// Selected ones.
	do(t, ctx, chromedp.Navigate(e.url("/dead-letters?kind=email.bounce")), chromedp.WaitVisible(css("#dead-letters")),
		chromedp.Click(css(`input[name="seq"]`)), chromedp.Click(css("#delete-selected")), chromedp.WaitVisible(css("#confirm")))
	if got := text(t, ctx, "#confirm-count"); got != "1" {
		t.Fatalf("selected count = %q", got)
	}
	do(t, ctx, chromedp.Click(css("#confirm")))
	waitFlash(t, ctx, "Deleted 1 dead letters")
	if n, _ := e.client.CountDeadLetters(context.Background(), job.DeadLetterQuery{}); n != 3 {
		t.Fatalf("%d dead letters after deleting one of 4", n)
	}
}

// Canceling a running job from its page cancels its context; the job ends
// in the dead letters with reason canceled.
func TestBrowserCancelRunningJob(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	started := make(chan struct{}, 1)
	var cause atomic.Value
	e.pool(worker.Config{}, func(p *worker.Pool) {
		if err := worker.Handle(p, "video.encode", func(ctx context.Context, j *job.Job[struct{}]) error {
			started <- struct{}{}
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
			return ctx.Err()
		}); err != nil {
			t.Fatal(err)
		}
	})
	r := e.enqueue("video.encode", nil, job.ID("encode-7"))
	<-started
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/job?id=encode-7&seq="+itoa(r.Seq))), chromedp.WaitVisible(css("#cancel")))
	if got := text(t, ctx, "#job-state"); got != "running" {
		t.Fatalf("state = %q, want running", got)
	}
	do(t, ctx, chromedp.Click(css("#cancel")))
	waitFlash(t, ctx, "Canceled job encode-7")
	eventually(t, func() bool {
		c, _ := cause.Load().(error)
		return errors.Is(c, job.ErrCanceled)
	}, "the running job's context was not canceled")
	eventually(t, func() bool {
		dl, err := e.client.DeadLetter(context.Background(), "encode-7")
		return err == nil && dl.Reason == job.ReasonCanceled
	}, "the canceled job was not dead-lettered as canceled")
}

// Untrusted text from publishers is shown as text on every page: no
// element or script of it exists in the page.
func TestBrowserEscapesUntrustedContent(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	const (
		script = `<script>alert(1)</script>`
		img    = `"><img src=x onerror=alert(2)>`
	)
	// A foreign publisher's job: the ID, a header, the payload, and the
	// kind (a subject token may hold these characters, not spaces or dots).
	kind := `"><img/src/onerror=alert(3)>`
	msg := &nats.Msg{Subject: "jobs.evil." + kind, Header: nats.Header{}, Data: []byte(`{"a":"` + strings.ReplaceAll(script+img, `"`, `\"`) + `"}`)}
	msg.Header.Set(job.HeaderID, img)
	msg.Header.Set("X-Note", script)
	ack, err := e.js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	seq := e.deadLetter(script, "evil", "k", []byte(script+img), job.ReasonFailed, img+script, map[string]string{"X-Note": img})
	ctx := browser(t)
	pages := []string{"/", "/queues/evil", "/job?id=" + urlQuery(img) + "&seq=" + itoa(ack.Sequence), "/dead-letters", "/dead-letters/" + itoa(seq), "/job?id=" + urlQuery(script)}
	for _, p := range pages {
		do(t, ctx, chromedp.Navigate(e.url(p)), chromedp.WaitVisible(css("main")))
		imgs := eval[int](t, ctx, `document.querySelectorAll('img').length`)
		scripts := eval[int](t, ctx, `document.querySelectorAll('script').length`)
		handlers := eval[int](t, ctx, `document.querySelectorAll('[onerror]').length`)
		if imgs != 0 || scripts != 1 || handlers != 0 {
			t.Fatalf("%s: %d img, %d script, %d onerror elements: untrusted content became markup", p, imgs, scripts, handlers)
		}
		body := eval[string](t, ctx, `document.querySelector('main').textContent`)
		switch p {
		case "/queues/evil":
			mustContain(t, body, img, kind)
		case "/dead-letters/" + itoa(seq):
			mustContain(t, body, script, img+script)
		}
	}
	screenshot(t, ctx, "escaping")
}

func urlQuery(s string) string {
	b, _ := json.Marshal(s)
	_ = b
	return strings.NewReplacer("%", "%25", "&", "%26", "#", "%23", "+", "%2B", " ", "%20", `"`, "%22", "<", "%3C", ">", "%3E").Replace(s)
}

// Read-only mode shows no action, and the server refuses one sent anyway.
func TestBrowserReadOnly(t *testing.T) {
	e := newEnv(t, dashboard.Config{ReadOnly: true})
	seq := e.deadLetter("d-1", "mail", "k", []byte(`{}`), job.ReasonFailed, "x", nil)
	ctx := browser(t)
	for _, p := range []string{"/", "/dead-letters", "/dead-letters/" + itoa(seq), "/schedules", "/job?id=d-1"} {
		do(t, ctx, chromedp.Navigate(e.url(p)), chromedp.WaitVisible(css("#read-only")))
		if n := eval[int](t, ctx, `document.querySelectorAll('form[method="post"], button#replay, button#delete').length`); n != 0 {
			t.Fatalf("%s shows %d actions in read-only mode", p, n)
		}
	}
	status := eval[int](t, ctx, `fetch("`+prefix+`/dead-letters/`+itoa(seq)+`/delete", {method: "POST"}).then(r => r.status)`)
	if status != 403 {
		t.Fatalf("POST in read-only mode: %d", status)
	}
	if _, err := e.client.DeadLetterAt(context.Background(), seq); err != nil {
		t.Fatalf("the dead letter is gone: %v", err)
	}
}

// A form posted without its CSRF token is refused and changes nothing.
func TestBrowserPOSTWithoutCSRFTokenRefused(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	seq := e.deadLetter("d-1", "mail", "k", []byte(`{}`), job.ReasonFailed, "x", nil)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/dead-letters/"+itoa(seq))), chromedp.WaitVisible(css("#delete")))
	eval[bool](t, ctx, `(document.querySelectorAll('input[name="csrf"]').forEach(i => i.remove()), true)`)
	do(t, ctx, chromedp.Click(css("#delete")), chromedp.WaitNotPresent(css("#delete")))
	body := eval[string](t, ctx, `document.body.textContent`)
	mustContain(t, body, "CSRF")
	if _, err := e.client.DeadLetterAt(context.Background(), seq); err != nil {
		t.Fatalf("the dead letter is gone: %v", err)
	}
}

// waitFlash waits for the page to show a flash message containing msg.
// The page may be navigating meanwhile: a failed look is tried again.
func waitFlash(t *testing.T, ctx context.Context, msg string) {
	t.Helper()
	b, _ := json.Marshal(msg)
	waitJS(t, ctx, `(() => { const f = document.querySelector('#flash'); return !!f && f.textContent.includes(`+string(b)+`); })()`, "message "+msg)
}

// waitJS waits until the JavaScript expression cond is true on the page.
func waitJS(t *testing.T, ctx context.Context, cond, what string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("no %s within 15s (last error: %v); the page says:\n%s", what, err, clip(body))
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("no %s: %v", what, ctx.Err())
		}
	}
}

// A schedule added with the form is declared on the server and listed with
// the delayed jobs; removing it removes it. The workers page lists the live
// pool with the job it runs.
func TestBrowserSchedulesAndWorkers(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	e.pool(worker.Config{Queues: map[string]worker.QueueConfig{"default": {Concurrency: 4}}}, func(p *worker.Pool) {
		if err := worker.Handle(p, "video.encode", func(ctx context.Context, j *job.Job[struct{}]) error {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	defer close(release)
	e.enqueue("video.encode", nil, job.ID("encode-9"))
	<-started
	e.enqueue("report.build", map[string]string{"month": "2026-12"}, job.ID("report-later"), job.In(2*time.Hour))
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/schedules")), chromedp.WaitVisible(css("#add-schedule")),
		chromedp.SetValue(css(`#add-schedule input[name="name"]`), "nightly-report"),
		chromedp.SetValue(css(`#add-schedule input[name="spec"]`), "0 30 2 * * *"),
		chromedp.SetValue(css(`#add-schedule input[name="tz"]`), "Europe/Berlin"),
		chromedp.SetValue(css(`#add-schedule input[name="kind"]`), "report.build"),
		chromedp.SetValue(css(`#add-schedule input[name="args"]`), `{"period":"day"}`),
		chromedp.Click(css("#add")))
	waitFlash(t, ctx, "Schedule nightly-report saved")
	s, err := e.client.LookupSchedule(context.Background(), "nightly-report")
	if err != nil || s.Spec != "0 30 2 * * *" || s.TimeZone != "Europe/Berlin" || s.Queue != "default" || string(s.Payload) != `{"period":"day"}` {
		t.Fatalf("declared schedule: %+v, %v", s, err)
	}
	mustContain(t, text(t, ctx, "#delayed"), "report-later", "report.build")
	screenshot(t, ctx, "schedules")
	do(t, ctx, chromedp.Click(css(`#schedules button.danger`)))
	waitFlash(t, ctx, "Removed schedule nightly-report")
	if _, err := e.client.LookupSchedule(context.Background(), "nightly-report"); !errors.Is(err, job.ErrScheduleNotFound) {
		t.Fatalf("the schedule is still there: %v", err)
	}

	do(t, ctx, chromedp.Navigate(e.url("/workers")))
	waitJS(t, ctx, `document.querySelector('#workers').textContent.includes('encode-9')`, "the running job on the workers page")
	mustContain(t, text(t, ctx, "#workers"), "default 1/4", "video.encode", "kinds: video.encode")
	screenshot(t, ctx, "workers")
}

// A job that keeps its result shows its progress while it runs, updated by
// the live refresh, and its result once it succeeded and left the streams.
// A result or message holding markup stays text.
func TestBrowserJobProgressAndResult(t *testing.T) {
	e := newEnv(t, dashboard.Config{Refresh: time.Second})
	started, step, release := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		if err := worker.HandleResult(p, "report.build", func(ctx context.Context, j *job.Job[map[string]string]) (json.RawMessage, error) {
			if err := job.Progress(ctx, 0.25, "rendered 1 of 4 pages"); err != nil {
				return nil, err
			}
			started <- struct{}{}
			for _, wait := range []chan struct{}{step, release} {
				select {
				case <-wait:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				if wait == step {
					if err := job.Progress(ctx, 0.75, "rendered 3 of 4 pages <script>alert(5)</script>"); err != nil {
						return nil, err
					}
				}
			}
			// Raw JSON is kept as it is: markup reaches the record as
			// escapes (\u003c), and stays text on the page either way.
			return json.RawMessage(`{"pages":4,"url":"https://reports.example.com/2026-12.pdf","note":"<script>alert(6)</script>"}`), nil
		}, worker.WithKeepResult(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	e.enqueue("report.build", map[string]string{"month": "2026-12"}, job.ID("report-dec"))
	<-started
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(e.url("/job?id=report-dec")), chromedp.WaitVisible(css("#kept-state")))
	waitJS(t, ctx, `document.querySelector('#progress-percent').textContent === "25%"`, "progress 25%")
	if got := text(t, ctx, "#progress-message"); got != "rendered 1 of 4 pages" {
		t.Fatalf("progress message = %q", got)
	}
	screenshot(t, ctx, "job")
	// The live refresh, not a reload, brings the next report.
	eval[bool](t, ctx, `(window.notReloaded = true)`)
	close(step)
	waitJS(t, ctx, `document.querySelector('#progress-percent').textContent === "75%" && window.notReloaded === true`, "progress 75% by the live refresh")
	if got := eval[float64](t, ctx, `document.querySelector('#state-progress progress').value`); got != 0.75 {
		t.Fatalf("progress bar at %v", got)
	}
	mustContain(t, text(t, ctx, "#progress-message"), "<script>alert(5)</script>")
	if got := text(t, ctx, "#state-status"); got != "running" {
		t.Fatalf("status = %q, want running", got)
	}
	inert(t, ctx, "/job?id=report-dec")

	close(release)
	waitJS(t, ctx, `document.querySelector('#state-status').textContent === "succeeded" && !!document.querySelector('#result')`, "the result by the live refresh")
	mustContain(t, text(t, ctx, "#result"), `"pages": 4`, "reports.example.com")
	// Opened anew, the job is in no stream: its kept state is all there is.
	do(t, ctx, chromedp.Navigate(e.url("/job?id=report-dec")), chromedp.WaitVisible(css("#left-streams")))
	if got := text(t, ctx, "#job-state"); got != "succeeded" {
		t.Fatalf("badge = %q, want succeeded", got)
	}
	mustContain(t, text(t, ctx, "#result"), `"pages": 4`)
	inert(t, ctx, "/job?id=report-dec")

	// A foreign worker's record, with markup not escaped in its JSON.
	const markup = `<script>alert(7)</script><img src=x onerror=alert(8)>`
	e.foreignState("foreign-7", `{"id":"foreign-7","status":"succeeded","worker":"`+jsonText(markup)+`",`+
		`"progress":{"fraction":1,"message":"`+jsonText(markup)+`","at":"2026-12-06T10:00:00Z"},`+
		`"result":{"html":"`+jsonText(markup)+`"},"updated_at":"2026-12-06T10:00:01Z"}`)
	do(t, ctx, chromedp.Navigate(e.url("/job?id=foreign-7")), chromedp.WaitVisible(css("#result")))
	mustContain(t, text(t, ctx, "#result"), markup)
	mustContain(t, text(t, ctx, "#progress-message"), markup)
	inert(t, ctx, "/job?id=foreign-7")
}

// inert fails the test when the page holds an element or script that
// untrusted text made: no img, no onerror, only the dashboard's script.
func inert(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	imgs := eval[int](t, ctx, `document.querySelectorAll('img').length`)
	scripts := eval[int](t, ctx, `document.querySelectorAll('script').length`)
	handlers := eval[int](t, ctx, `document.querySelectorAll('[onerror]').length`)
	if imgs != 0 || scripts != 1 || handlers != 0 {
		t.Fatalf("%s: %d img, %d script, %d onerror elements: untrusted content became markup", page, imgs, scripts, handlers)
	}
}
