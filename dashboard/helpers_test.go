package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/internal/pooltest"
	"github.com/jetjobs/jetjobs/job"
	"github.com/jetjobs/jetjobs/worker"
)

// prefix is where the tests mount the dashboard, to prove links keep it.
const prefix = "/ops/jobs"

// env is a server, a client, and the dashboard served over HTTP.
type env struct {
	t      *testing.T
	srv    *natstest.Server
	js     jetstream.JetStream
	client *job.Client
	web    *httptest.Server
	http   *http.Client
	// live counts the live-refresh requests the dashboard served.
	live atomic.Int64
}

// startNamespace starts a server and returns it, a JetStream context on it
// and a client of the default namespace, whose streams exist.
func startNamespace(tb testing.TB) (*natstest.Server, jetstream.JetStream, *job.Client) {
	tb.Helper()
	srv := natstest.Start(tb)
	_, js := srv.Connect(tb)
	c, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.EnsureTopology(ctx); err != nil {
		tb.Fatal(err)
	}
	return srv, js, c
}

func newEnv(t *testing.T, cfg dashboard.Config) *env {
	t.Helper()
	srv, js, c := startNamespace(t)
	cfg.Prefix = prefix
	h, err := dashboard.New(js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, js: js, client: c}
	mux := http.NewServeMux()
	mux.Handle(prefix+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Jetjobs-Live") != "" {
			e.live.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	e.web = httptest.NewServer(mux)
	t.Cleanup(e.web.Close)
	jar, _ := cookiejar.New(nil)
	e.http = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(e.http.CloseIdleConnections)
	return e
}

func (e *env) url(path string) string { return e.web.URL + prefix + path }

// get returns the status and body of GET path.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := e.http.Get(e.url(path))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// token returns the CSRF token of the page at path.
func (e *env) token(path string) string {
	e.t.Helper()
	_, body := e.get(path)
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

// post posts form to path and returns the status, body and location.
func (e *env) post(path string, form url.Values) (int, string, string) {
	e.t.Helper()
	resp, err := e.http.PostForm(e.url(path), form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header.Get("Location")
}

func (e *env) enqueue(kind string, args any, opts ...job.Option) job.Result {
	e.t.Helper()
	r, err := e.client.Enqueue(context.Background(), kind, args, opts...)
	if err != nil {
		e.t.Fatalf("enqueue %s: %v", kind, err)
	}
	return r
}

func (e *env) pool(cfg worker.Config, register func(p *worker.Pool)) *worker.Pool {
	e.t.Helper()
	return pooltest.Start(e.t, e.js, cfg, register)
}

// deadLetter stores a dead letter as a worker would, with extra headers.
func (e *env) deadLetter(id, queue, kind string, payload []byte, reason job.Reason, cause string, extra map[string]string) uint64 {
	e.t.Helper()
	topo := e.client.Topology()
	h := map[string][]string{}
	for k, v := range extra {
		h[k] = []string{v}
	}
	msg := topo.DeadLetterMessage(job.Subject(topo.Prefix, queue, kind), h, payload, id, queue, "JOBS", uint64(time.Now().UnixNano()), reason, cause, 3)
	ack, err := e.js.PublishMsg(context.Background(), msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return ack.Sequence
}

// foreignState stores doc, as a foreign worker would, as the state record
// of job id.
func (e *env) foreignState(id, doc string) {
	e.t.Helper()
	msg := &nats.Msg{Subject: e.client.Topology().StateSubject(id), Header: nats.Header{"Nats-TTL": {"1h"}}, Data: []byte(doc)}
	if _, err := e.js.PublishMsg(context.Background(), msg); err != nil {
		e.t.Fatal(err)
	}
}

// jsonText is s as the inside of a JSON string, with no escaping of HTML:
// what a foreign worker may write.
func jsonText(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(b.String()), `"`), `"`)
}

func eventually(t *testing.T, cond func() bool, msg string, args ...any) {
	t.Helper()
	natstest.Eventually(t, 15*time.Second, cond, msg, args...)
}

func mustContain(t *testing.T, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Fatalf("page lacks %q:\n%s", p, clip(body))
		}
	}
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}
