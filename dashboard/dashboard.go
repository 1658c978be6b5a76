package dashboard

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/jetjobs/jetjobs/job"
)

// Config configures the dashboard. Its zero value serves the default
// namespace at the root path, with every action enabled.
type Config struct {
	// Topology names the namespace's streams; its zero value is the
	// default namespace.
	Topology job.Topology
	// Prefix is the URL path the handler is mounted under, such as
	// "/jobs": every request path it serves starts with it, and every link
	// it renders carries it. Mount the handler on the prefix and the
	// subtree below it, without stripping it:
	//
	//	mux.Handle("/jobs/", h) // with Config{Prefix: "/jobs"}
	//
	// Empty means the root. It must start with "/" and not end with one.
	Prefix string
	// ReadOnly hides every action and refuses every request that would
	// change something with 403 Forbidden.
	ReadOnly bool
	// Logger receives the handler's logs; nil means slog.Default().
	Logger *slog.Logger
	// Refresh is how often pages refresh their live figures while the tab
	// is visible; default 5s. Negative turns live refresh off.
	Refresh time.Duration
	// MaxPayload bounds the payload bytes a page shows on request ("show
	// all"); default 1 MiB. Lists show the first 160 bytes, detail pages
	// the first 16 KiB.
	MaxPayload int
	// CSRFKey signs the tokens that protect every state-changing request;
	// nil means a random key, so tokens last as long as the process. Give
	// several replicas behind one address the same key.
	CSRFKey []byte
	// Timeout bounds the server requests of one page; default 5s.
	Timeout time.Duration
}

const (
	defaultRefresh    = 5 * time.Second
	defaultMaxPayload = 1 << 20
	defaultTimeout    = 5 * time.Second
	previewBytes      = 160
	detailBytes       = 16 << 10
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// handler is the dashboard.
type handler struct {
	cfg     Config
	js      jetstream.JetStream
	client  *job.Client
	insp    *job.Inspector
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
	csrf    csrf
	samples *sampler
}

// New returns the dashboard of the namespace cfg.Topology as an
// http.Handler. It does no I/O: pages read the server when they are
// requested, and show a banner rather than an error page when the
// connection is down.
//
// The handler does no authentication: put it behind the application's own
// middleware (or `jetjobs ui --user`) where it is reachable by anyone who
// should not operate the queues. It protects every state-changing request
// with a CSRF token and sets a strict Content-Security-Policy.
func New(js jetstream.JetStream, cfg Config) (http.Handler, error) {
	if js == nil {
		return nil, fmt.Errorf("%w: dashboard.New needs a jetstream.JetStream", job.ErrInvalidOption)
	}
	if err := validatePrefix(cfg.Prefix); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Refresh == 0 {
		cfg.Refresh = defaultRefresh
	}
	if cfg.MaxPayload <= 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = defaultTimeout
	}
	key := cfg.CSRFKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	} else if len(key) < 16 {
		return nil, fmt.Errorf("%w: Config.CSRFKey has %d bytes; use at least 16 random bytes, or nil for a random key", job.ErrInvalidOption, len(key))
	}
	client, err := job.NewClient(js, job.ClientConfig{Topology: cfg.Topology})
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	insp, err := job.NewInspector(js, cfg.Topology)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &handler{
		cfg: cfg, js: js, client: client, insp: insp, log: cfg.Logger, pages: pages,
		csrf: csrf{key: key, path: cfg.Prefix + "/"}, samples: newSampler(),
	}
	h.routes()
	return h, nil
}

func validatePrefix(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") {
		return fmt.Errorf("%w: Config.Prefix %q must start with \"/\" and not end with one, such as \"/jobs\"", job.ErrInvalidOption, p)
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/-_.~", r)) {
			return fmt.Errorf("%w: Config.Prefix %q: character %q is not allowed; use letters, digits and / - _ . ~", job.ErrInvalidOption, p, r)
		}
	}
	return nil
}

func (h *handler) routes() {
	p := h.cfg.Prefix
	m := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	m.Handle("GET "+p+"/static/", http.StripPrefix(p+"/static/", cacheStatic(http.FileServerFS(static))))
	m.HandleFunc("GET "+p+"/{$}", h.page(h.overview))
	m.HandleFunc("GET "+p+"/queues/{queue}", h.page(h.queuePage))
	m.HandleFunc("GET "+p+"/job", h.page(h.jobPage))
	m.HandleFunc("GET "+p+"/dead-letters", h.page(h.deadLetters))
	m.HandleFunc("GET "+p+"/dead-letters/{seq}", h.page(h.deadLetterPage))
	m.HandleFunc("GET "+p+"/schedules", h.page(h.schedules))
	m.HandleFunc("GET "+p+"/workers", h.page(h.workers))
	m.HandleFunc("GET "+p+"/flows", h.page(h.flowsPage))
	m.HandleFunc("GET "+p+"/flows/open", h.openFlow)
	m.HandleFunc("GET "+p+"/batches/{id}", h.page(h.batchPage))
	m.HandleFunc("GET "+p+"/workflows/{id}", h.page(h.workflowPage))
	m.HandleFunc("POST "+p+"/workflows/{id}/cancel", h.action(h.cancelWorkflow))
	m.HandleFunc("POST "+p+"/workflows/{id}/retry", h.action(h.retryTask))
	m.HandleFunc("POST "+p+"/queues/{queue}/pause", h.action(h.pauseQueue))
	m.HandleFunc("POST "+p+"/queues/{queue}/resume", h.action(h.resumeQueue))
	m.HandleFunc("POST "+p+"/job/cancel", h.action(h.cancelJob))
	m.HandleFunc("POST "+p+"/dead-letters/{seq}/replay", h.action(h.replayOne))
	m.HandleFunc("POST "+p+"/dead-letters/{seq}/delete", h.action(h.deleteOne))
	m.HandleFunc("POST "+p+"/dead-letters/confirm", h.action(h.confirmBulk))
	m.HandleFunc("POST "+p+"/dead-letters/bulk", h.action(h.bulk))
	m.HandleFunc("POST "+p+"/schedules", h.action(h.addSchedule))
	m.HandleFunc("POST "+p+"/schedules/remove", h.action(h.removeSchedule))
	if p != "" {
		m.Handle("GET "+p, http.RedirectHandler(p+"/", http.StatusMovedPermanently))
	}
	h.mux = m
}

// contentSecurityPolicy allows the dashboard's own scripts, styles and
// requests only: no inline script or style, no framing.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("X-Frame-Options", "DENY")
	hdr.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// view is what every page template receives.
type view struct {
	Title    string
	Nav      string
	Prefix   string
	ReadOnly bool
	CSRF     string
	Refresh  int // seconds; 0: no live refresh
	Banner   string
	Error    string
	Flash    string
	Search   string
	Data     any
}

// pageFunc renders one page: it fills v (Title, Nav, Data) or returns an
// error to show.
type pageFunc func(ctx context.Context, r *http.Request, v *view) (template string, err error)

// page wraps a pageFunc: the CSRF cookie, the connection banner, a
// bounded context, errors shown on the page.
func (h *handler) page(fn pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := &view{Prefix: h.cfg.Prefix, ReadOnly: h.cfg.ReadOnly}
		if h.cfg.Refresh > 0 {
			v.Refresh = max(int(h.cfg.Refresh/time.Second), 1)
		}
		v.CSRF = h.csrf.token(w, r)
		v.Flash = takeFlash(w, r, h.cfg.Prefix)
		v.Banner = h.connectionBanner()
		ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
		defer cancel()
		name, err := fn(ctx, r, v)
		status := http.StatusOK
		if err != nil {
			status = h.errorStatus(err)
			v.Error = h.describe(err)
			if name == "" {
				name = "error"
				v.Title = "Error"
			}
		}
		h.render(w, status, name, v)
	}
}

func (h *handler) errorStatus(err error) int {
	switch {
	case errors.Is(err, errNotFound), errors.Is(err, job.ErrDeadLetterNotFound), errors.Is(err, job.ErrJobNotLocated):
		return http.StatusNotFound
	case errors.Is(err, errBadRequest), errors.Is(err, job.ErrInvalidName), errors.Is(err, job.ErrInvalidOption):
		return http.StatusBadRequest
	}
	return http.StatusServiceUnavailable
}

var (
	errNotFound   = errors.New("not found")
	errBadRequest = errors.New("bad request")
)

// describe is an error as an operator should read it.
func (h *handler) describe(err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return "The NATS server did not answer in time (" + h.cfg.Timeout.String() + "). " + err.Error()
	}
	if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrDisconnected) || errors.Is(err, nats.ErrConnectionReconnecting) {
		return "Not connected to NATS: " + err.Error()
	}
	return err.Error()
}

// connectionBanner says when the connection to NATS is not up.
func (h *handler) connectionBanner() string {
	nc := h.js.Conn()
	switch st := nc.Status(); st {
	case nats.CONNECTED:
		return ""
	case nats.CLOSED:
		return "The connection to NATS is closed: the figures cannot be read. Restart the dashboard's process."
	default:
		return fmt.Sprintf("Lost the connection to NATS (%s): figures may be missing or stale until it reconnects.", strings.ToLower(st.String()))
	}
}

func (h *handler) render(w http.ResponseWriter, status int, name string, v *view) {
	t := h.pages[name]
	if t == nil {
		t = h.pages["error"]
		v.Error = "no template " + name
		status = http.StatusInternalServerError
	}
	var buf strings.Builder
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		h.log.LogAttrs(context.Background(), slog.LevelError, "dashboard: render page", slog.String("page", name), slog.String("error", err.Error()))
		http.Error(w, "dashboard: could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// actionFunc performs one state change and returns where to go next and
// what to tell the operator there; or it renders a page itself (confirm)
// and returns "" as location.
type actionFunc func(ctx context.Context, w http.ResponseWriter, r *http.Request) (location, flash string, err error)

// action wraps an actionFunc: read-only mode, the CSRF check, a bounded
// context, and the redirect after it (POST, redirect, GET).
func (h *handler) action(fn actionFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.cfg.ReadOnly {
			http.Error(w, "dashboard: read-only mode: nothing can be changed here", http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "dashboard: cannot read the form: "+err.Error(), http.StatusBadRequest)
			return
		}
		if !h.csrf.valid(r) {
			http.Error(w, "dashboard: missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
			return
		}
		// Bulk actions act on many dead letters: give them longer.
		ctx, cancel := context.WithTimeout(r.Context(), max(h.cfg.Timeout, 10*time.Minute))
		defer cancel()
		loc, flash, err := fn(ctx, w, r)
		if err != nil {
			v := &view{Prefix: h.cfg.Prefix, Title: "Error", CSRF: h.csrf.token(w, r), Banner: h.connectionBanner(), Error: h.describe(err)}
			h.render(w, h.errorStatus(err), "error", v)
			return
		}
		if loc == "" {
			return // rendered
		}
		setFlash(w, h.cfg.Prefix, flash)
		http.Redirect(w, r, loc, http.StatusSeeOther)
	}
}
