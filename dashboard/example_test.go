package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/jetjobs/jetjobs/dashboard"
	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// Mount the dashboard under /jobs/ of an application's own mux. Put it
// behind the application's authentication: the handler has none.
func Example() {
	js, stop := natstest.ForExample()
	defer stop()
	ctx := context.Background()
	client, err := job.NewClient(js, job.ClientConfig{})
	if err != nil {
		panic(err)
	}
	if err := client.EnsureTopology(ctx); err != nil {
		panic(err)
	}
	if _, err := client.Enqueue(ctx, "email.send", map[string]string{"to": "ada@example.com"}, job.Queue("mail")); err != nil {
		panic(err)
	}

	h, err := dashboard.New(js, dashboard.Config{Prefix: "/jobs"})
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/jobs/", h) // e.g. mux.Handle("/jobs/", requireAdmin(h))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/jobs/", nil))
	page := rec.Body.String()
	fmt.Println(rec.Code, strings.Contains(page, `<a href="/jobs/queues/mail">mail</a>`))
	// Output: 200 true
}
