package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/job"
)

// parsePages parses every page template with the layout and the parts
// (templates/_parts.html): one template set per page, keyed by the file's
// base name.
func parsePages() (map[string]*template.Template, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || strings.HasPrefix(name, "_") {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/_parts.html", f)
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

var funcs = template.FuncMap{
	"ago":      ago,
	"age":      age,
	"clock":    clock,
	"count":    count,
	"preview":  preview,
	"traceID":  traceID,
	"headers":  sortedHeaders,
	"add":      func(a, b int) int { return a + b },
	"pct":      func(part, whole int) int { return part * 100 / max(whole, 1) },
	"percent":  percent,
	"joinKind": func(q, k string) string { return q + "/" + k },
	"mid":      func(a, b int) int { return (a + b) / 2 },
	"share":    func(part, whole int64, width int) int64 { return part * int64(width) / max(whole, 1) },
}

// ago is how long ago t was, for people: "3m ago".
func ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := time.Since(t)
	if d < 0 {
		return "in " + age(-d)
	}
	return age(d) + " ago"
}

// age is a duration for people, to two units: "1h 5m", "12s".
func age(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// clock is an instant in UTC, to the second.
func clock(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// percent is a fraction from 0 to 1 as a whole percentage: "42%". A
// fraction outside that range (a foreign worker's) is shown as it is.
func percent(f float64) string {
	return strconv.FormatFloat(math.Floor(f*100), 'f', 0, 64) + "%"
}

// count formats a number with thousands separators.
func count(n any) string {
	var s string
	switch v := n.(type) {
	case int:
		s = strconv.Itoa(v)
	case uint64:
		s = strconv.FormatUint(v, 10)
	case int64:
		s = strconv.FormatInt(v, 10)
	default:
		return fmt.Sprint(n)
	}
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// preview is the start of a payload for a list: at most previewBytes,
// cut on a character boundary, with the size when cut.
func preview(data []byte) string {
	if len(data) == 0 {
		return "(no arguments)"
	}
	if len(data) <= previewBytes {
		return string(bytes.ToValidUTF8(data, []byte("�")))
	}
	cut := previewBytes
	for cut > 0 && !utf8.RuneStart(data[cut]) {
		cut--
	}
	return string(bytes.ToValidUTF8(data[:cut], []byte("�"))) + fmt.Sprintf("… (%s bytes)", count(len(data)))
}

// payloadView is a payload for a detail page: formatted JSON when it is
// JSON, cut at limit bytes unless shown whole.
type payloadView struct {
	Text  string
	Size  int
	Cut   bool // only the first Shown bytes are shown
	Shown int
	JSON  bool
	// TooLarge: even the whole view is bounded, by Config.MaxPayload.
	TooLarge bool
}

func viewPayload(data []byte, full bool, detail, maxBytes int) payloadView {
	limit := detail
	if full {
		limit = maxBytes
	}
	v := payloadView{Size: len(data)}
	if len(data) == 0 {
		v.Text = "(no arguments)"
		return v
	}
	if len(data) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(data[cut]) {
			cut--
		}
		v.Text = string(bytes.ToValidUTF8(data[:cut], []byte("�")))
		v.Cut, v.Shown, v.TooLarge = true, cut, full
		return v
	}
	var buf bytes.Buffer
	if len(data) > 0 && json.Indent(&buf, data, "", "  ") == nil {
		v.Text, v.JSON = buf.String(), true
	} else {
		v.Text = string(bytes.ToValidUTF8(data, []byte("�")))
	}
	v.Shown = len(data)
	return v
}

// traceID is the trace ID of a W3C traceparent header, or "".
func traceID(h nats.Header) string {
	parts := strings.Split(h.Get(job.HeaderTraceParent), "-")
	if len(parts) == 4 && len(parts[1]) == 32 {
		return parts[1]
	}
	return ""
}

type headerLine struct{ Name, Value string }

func sortedHeaders(h nats.Header) []headerLine {
	var out []headerLine
	for k, vs := range h {
		for _, v := range vs {
			out = append(out, headerLine{k, v})
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Name < out[j-1].Name; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
