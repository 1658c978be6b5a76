package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

func TestEveryPageRendersUnderThePrefix(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	r := e.enqueue("email.send", map[string]string{"to": "ada@example.com"}, job.ID("j-1"), job.Queue("mail"))
	seq := e.deadLetter("dead-1", "mail", "email.send", []byte(`{"to":"x"}`), job.ReasonFailed, "smtp down", nil)
	e.enqueue("report.build", nil, job.ID("later-1"), job.In(time.Hour))
	for _, path := range []string{"/", "/queues/mail", "/queues/mail?order=newest&kind=email.send", "/job?id=j-1", "/job?id=later-1",
		"/job?id=dead-1", "/job?id=nope", "/dead-letters", "/dead-letters?queue=mail&reason=failed&error=SMTP",
		"/dead-letters/" + itoa(seq), "/schedules", "/workers", "/job"} {
		status, body := e.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", path, status, clip(body))
		}
		if strings.Contains(body, `href="/queues`) || strings.Contains(body, `href="/dead-letters`) {
			t.Fatalf("GET %s: a link misses the prefix", path)
		}
	}
	_, body := e.get("/queues/mail")
	mustContain(t, body, "j-1", `href="`+prefix+`/job?id=j-1&seq=`+itoa(r.Seq)+`"`)
	_, body = e.get("/job?id=later-1")
	mustContain(t, body, "delayed", "report.build")
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	e.enqueue("traced.work", map[string]int{"n": 1}, job.ID("traced-1"), job.Header(job.HeaderTraceParent, "00-"+trace+"-00f067aa0ba902b7-01"))
	_, body = e.get("/job?id=traced-1")
	mustContain(t, body, `id="trace-id">`+trace, "pending", "&#34;n&#34;: 1")
	status, _ := e.get("/dead-letters/99999")
	if status != http.StatusNotFound {
		t.Fatalf("missing dead letter: %d", status)
	}
	resp, err := e.http.Get(e.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("CSP = %q", csp)
	}
	status, _ = e.get("/static/app.js")
	if status != http.StatusOK {
		t.Fatalf("static: %d", status)
	}
}

func TestStateChangesNeedPOSTWithCSRFToken(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	seq := e.deadLetter("dead-1", "mail", "k", nil, job.ReasonFailed, "x", nil)
	path := "/dead-letters/" + itoa(seq) + "/delete"
	status, body, _ := e.post(path, url.Values{})
	if status != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("POST without token: %d %s", status, body)
	}
	status, _, _ = e.post(path, url.Values{"csrf": {"forged"}})
	if status != http.StatusForbidden {
		t.Fatalf("POST with a forged token: %d", status)
	}
	status, _ = e.get(path)
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("GET of an action: %d", status)
	}
	if _, err := e.client.DeadLetterAt(context.Background(), seq); err != nil {
		t.Fatalf("the dead letter is gone: %v", err)
	}
	tok := e.token("/dead-letters/" + itoa(seq))
	status, _, loc := e.post(path, url.Values{"csrf": {tok}})
	if status != http.StatusSeeOther || loc != prefix+"/dead-letters" {
		t.Fatalf("POST with token: %d, location %q", status, loc)
	}
	if _, err := e.client.DeadLetterAt(context.Background(), seq); !errors.Is(err, job.ErrDeadLetterNotFound) {
		t.Fatalf("dead letter still there: %v", err)
	}
	_, body = e.get("/dead-letters")
	mustContain(t, body, "Deleted dead letter "+itoa(seq))
}

func TestReadOnlyHidesActionsAndRefusesChanges(t *testing.T) {
	e := newEnv(t, dashboard.Config{ReadOnly: true})
	seq := e.deadLetter("dead-1", "mail", "k", nil, job.ReasonFailed, "x", nil)
	for _, path := range []string{"/dead-letters", "/dead-letters/" + itoa(seq), "/schedules", "/job?id=dead-1"} {
		_, body := e.get(path)
		if strings.Contains(body, `method="post"`) {
			t.Fatalf("%s shows a form that changes something in read-only mode", path)
		}
		mustContain(t, body, "read-only")
	}
	for _, path := range []string{"/dead-letters/" + itoa(seq) + "/delete", "/dead-letters/" + itoa(seq) + "/replay", "/queues/mail/pause", "/job/cancel", "/schedules"} {
		status, body, _ := e.post(path, url.Values{"id": {"dead-1"}, "name": {"x"}})
		if status != http.StatusForbidden || !strings.Contains(body, "read-only") {
			t.Fatalf("POST %s in read-only mode: %d %s", path, status, body)
		}
	}
	if _, err := e.client.DeadLetterAt(context.Background(), seq); err != nil {
		t.Fatalf("read-only mode let the dead letter go: %v", err)
	}
}

func TestBadInputGetsClearErrors(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	status, body := e.get("/queues/_bad")
	if status != http.StatusBadRequest || !strings.Contains(body, "reserved") {
		t.Fatalf("reserved queue: %d", status)
	}
	if _, err := dashboard.New(e.js, dashboard.Config{Prefix: "jobs/"}); !errors.Is(err, job.ErrInvalidOption) {
		t.Fatalf("bad prefix: %v", err)
	}
	if _, err := dashboard.New(nil, dashboard.Config{}); err == nil {
		t.Fatal("nil JetStream accepted")
	}
}

// A lost connection shows as a banner on the page, not a blank page.
func TestLostConnectionShowsBanner(t *testing.T) {
	e := newEnv(t, dashboard.Config{Timeout: 300 * time.Millisecond})
	e.srv.Shutdown()
	eventually(t, func() bool { return e.js.Conn().Status() != 1 /* CONNECTED */ }, "the client did not notice")
	status, body := e.get("/")
	if status != http.StatusServiceUnavailable {
		t.Fatalf("status %d", status)
	}
	mustContain(t, body, "Lost the connection to NATS", "<h1>Overview</h1>")
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// A huge payload is cut in lists and on detail pages, and shown whole only
// on request, up to Config.MaxPayload.
func TestHugePayloadsAreCut(t *testing.T) {
	e := newEnv(t, dashboard.Config{MaxPayload: 64 << 10})
	big := `{"blob":"` + strings.Repeat("é", 40<<10) + `"}` // 80 KiB of two-byte runes
	r := e.enqueue("blob.store", []byte(big), job.ID("big-1"))
	_, body := e.get("/queues/default")
	if strings.Count(body, "é") > 200 || !strings.Contains(body, "bytes)") {
		t.Fatalf("the queue page shows %d characters of the payload", strings.Count(body, "é"))
	}
	_, body = e.get("/job?id=big-1&seq=" + itoa(r.Seq))
	mustContain(t, body, "Showing 16,383 of 81,931 bytes", "Show the whole payload")
	_, body = e.get("/job?id=big-1&seq=" + itoa(r.Seq) + "&full=1")
	mustContain(t, body, "Showing 65,535 of 81,931 bytes", "the dashboard shows at most this much")
}

// The dead letters page lists newest first and pages on, or oldest first
// when asked.
func TestDeadLettersPages(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	for i := range 120 {
		e.deadLetter("dl-"+strconv.Itoa(i), "mail", "k", nil, job.ReasonFailed, "x", nil)
	}
	_, body := e.get("/dead-letters?queue=mail")
	mustContain(t, body, ">dl-119<", "Newest first")
	if strings.Contains(body, ">dl-69<") {
		t.Fatal("the first page shows more than 50")
	}
	next := regexp.MustCompile(`href="([^"]+)" id="next"`).FindStringSubmatch(body)
	if next == nil {
		t.Fatal("no next page link")
	}
	_, body = e.get(strings.TrimPrefix(strings.ReplaceAll(next[1], "&amp;", "&"), prefix))
	mustContain(t, body, ">dl-69<", ">dl-20<")
	if strings.Contains(body, ">dl-70<") || strings.Contains(body, ">dl-19<") {
		t.Fatal("the second page overlaps the first or runs past 50")
	}
	_, body = e.get("/dead-letters?queue=mail&order=oldest")
	mustContain(t, body, ">dl-0<", ">dl-49<", "Oldest first")
}

// A job that keeps its result shows its kept state, also after it
// succeeded and left every stream.
func TestJobPageShowsKeptState(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		if err := worker.HandleResult(p, "sum", func(ctx context.Context, j *job.Job[[]int]) (map[string]int, error) {
			n := 0
			for _, v := range j.Args {
				n += v
			}
			return map[string]int{"sum": n}, nil
		}); err != nil {
			t.Fatal(err)
		}
	})
	e.enqueue("sum", []int{1, 2, 3}, job.ID("sum-1"), job.KeepResult(time.Hour))
	eventually(t, func() bool {
		st, err := e.client.Status(context.Background(), "sum-1")
		return err == nil && st.Status == job.StatusSucceeded
	}, "the job did not succeed")
	status, body := e.get("/job?id=sum-1")
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	mustContain(t, body, `id="kept-state"`, `id="state-status">succeeded`, `&#34;sum&#34;: 6`, `id="left-streams"`)
}

// A running job's page shows its progress; once it ended, its result
// (escaped, cut with a link to the whole), or how it failed.
func TestJobPageShowsProgressResultAndFailure(t *testing.T) {
	e := newEnv(t, dashboard.Config{})
	reported := make(chan struct{}, 1)
	release := make(chan struct{})
	e.pool(worker.Config{}, func(p *worker.Pool) {
		if err := worker.HandleResult(p, "report.build", func(ctx context.Context, j *job.Job[struct{}]) (map[string]string, error) {
			if err := job.Progress(ctx, 0.4, "page 4 of 10 <b>bold</b>"); err != nil {
				return nil, err
			}
			reported <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return map[string]string{"html": "<script>alert(1)</script>", "rows": strings.Repeat("x", 20<<10)}, nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := worker.Handle(p, "report.fail", func(context.Context, *job.Job[struct{}]) error {
			return job.Permanent(errors.New("template <missing>"))
		}, worker.WithKeepResult(time.Hour)); err != nil {
			t.Fatal(err)
		}
	})
	e.enqueue("report.build", nil, job.ID("rep-1"), job.KeepResult(time.Hour))
	<-reported
	eventually(t, func() bool {
		st, err := e.client.Status(context.Background(), "rep-1")
		return err == nil && st.Progress != nil
	}, "no progress stored")
	_, body := e.get("/job?id=rep-1")
	mustContain(t, body, `id="state-live" data-live`, `id="state-status">running`, `<progress max="1" value="0.4">`,
		`id="progress-percent">40%`, `page 4 of 10 &lt;b&gt;bold&lt;/b&gt;`, "Attempt", "Started", "Updated", `id="cancel"`)
	if strings.Contains(body, "<b>bold") {
		t.Fatal("the progress message became markup")
	}

	close(release)
	eventually(t, func() bool {
		st, err := e.client.Status(context.Background(), "rep-1")
		return err == nil && st.Status == job.StatusSucceeded
	}, "the job did not succeed")
	_, body = e.get("/job?id=rep-1")
	mustContain(t, body, `id="state-status">succeeded`, `id="state-finished">`, "its kept state above is what is left of it", "report.build",
		`\u003cscript\u003ealert(1)`, "Showing 16,384 of 20,", `id="show-result"`)
	whole := regexp.MustCompile(`href="([^"]+)" id="show-result"`).FindStringSubmatch(body)
	if whole == nil {
		t.Fatal("no link to the whole result")
	}
	_, body = e.get(strings.TrimPrefix(strings.ReplaceAll(whole[1], "&amp;", "&"), prefix))
	mustContain(t, body, `id="result"`, `&#34;rows&#34;: &#34;xxx`)
	if strings.Contains(body, `id="show-result"`) || strings.Contains(body, "Showing ") {
		t.Fatal("the whole result is still cut")
	}

	e.enqueue("report.fail", nil, job.ID("rep-2"))
	eventually(t, func() bool {
		st, err := e.client.Status(context.Background(), "rep-2")
		return err == nil && st.Status == job.StatusDead
	}, "the failing job did not die")
	_, body = e.get("/job?id=rep-2")
	mustContain(t, body, `id="state-status">dead`, `id="state-reason">failed`, `template &lt;missing&gt;`)

	// A foreign worker's record may hold markup anywhere; it stays text.
	const markup = `<script>alert(1)</script><img src=x onerror=alert(2)>`
	e.foreignState("foreign-1", `{"id":"foreign-1","status":"dead","queue":"default","kind":"k","attempt":2,"max_attempts":3,`+
		`"worker":"`+jsonText(markup)+`","progress":{"fraction":0.5,"message":"`+jsonText(markup)+`","at":"2026-12-06T10:00:00Z"},`+
		`"result":{"html":"`+jsonText(markup)+`"},"reason":"`+jsonText(markup)+`","error":"`+jsonText(markup)+`","updated_at":"2026-12-06T10:00:01Z"}`)
	_, body = e.get("/job?id=foreign-1")
	mustContain(t, body, `id="state-status">dead`, `id="state-attempt">2 of 3`, `id="progress-percent">50%`, `id="left-streams"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;`)
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img") {
		t.Fatal("a foreign state record became markup")
	}

	// A job that keeps no state shows none, and no error for it.
	e.enqueue("report.other", nil, job.ID("plain-1"))
	_, body = e.get("/job?id=plain-1")
	if strings.Contains(body, `id="kept-state"`) || strings.Contains(body, `id="state-error"`) {
		t.Fatal("a job without kept state shows a state or an error")
	}
}
