// Package dashboard is jetjobs' web UI as an http.Handler: the queues with
// their pending, running and dead jobs and a chart of the last hour; each
// queue's pending and running jobs, and pausing it; any job by ID, and
// canceling it; the dead letters, filtered and paged over any number, and
// replaying or deleting one, a selection or all that match; the periodic
// schedules and delayed jobs; and the live worker processes.
//
// Mount it under any path prefix:
//
//	h, err := dashboard.New(js, dashboard.Config{Prefix: "/jobs"})
//	if err != nil { … }
//	mux.Handle("/jobs/", h)
//
// Pages are rendered on the server (html/template) from static files
// embedded in the binary; a small script refreshes the live figures every
// few seconds while the tab is visible, and pages work without it. The
// handler sets a strict Content-Security-Policy (no inline script or
// style), protects every state-changing request (always a POST) with a CSRF
// token, and escapes everything that comes from publishers: payloads,
// kinds, IDs, headers and errors. Config.ReadOnly hides every action and
// refuses state changes with 403.
//
// The handler does no authentication: wrap it in the application's own
// (or run `jetjobs ui`, which offers HTTP basic auth).
//
// No page reads a whole stream: lists are read page by page by sequence,
// and filters on dead letters read a bounded number of headers per page.
// See docs/dashboard.md for the figures.
package dashboard
