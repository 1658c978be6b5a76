package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"

	"github.com/jetjobs/jetjobs/internal/natstest"
	"github.com/jetjobs/jetjobs/job"
)

// hostile is text a publisher may put into an ID, a header or an error:
// a clear-screen and a title change (C0 escapes), a C1 CSI, DEL, a
// right-to-left override, and a byte that is not UTF-8.
const hostile = "evil\x1b[2J\x1b]0;pwned\x07\u009b31m\x7f\u202eexe.txt\xff"

// terminalSafe reports the first character of s a terminal may act on:
// any control or format character but a line break, or invalid UTF-8.
func terminalSafe(s string) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return r, false
		}
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			return r, false
		}
	}
	return 0, true
}

func TestPrintable(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"order-42", "order-42"},
		{"a b ü 日本", "a b ü 日本"},
		{"a\tb", `"a\tb"`},
		{"line\nbreak", `"line\nbreak"`},
		{"\x1b[2Jx", `"\x1b[2Jx"`},
		{"\u009b31m", `"\u009b31m"`},
		{"del\x7f", `"del\x7f"`},
		{"\u202eexe", `"\u202eexe"`},
		{"bad\xff", `"bad\xff"`},
	} {
		if got := printable(c.in); got != c.want {
			t.Errorf("printable(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if got, want := escapeUnprintable("dead letter "+hostile+" not found"), `dead letter evil\x1b[2J\x1b]0;pwned\a\u009b31m\x7f\u202eexe.txt\xff not found`; got != want {
		t.Errorf("escapeUnprintable = %s, want %s", got, want)
	}
}

// encoding/json escapes the C0 controls only, and passes a RawMessage
// through: writeJSON escapes the rest.
func TestWriteJSONEscapesWhatATerminalActsOn(t *testing.T) {
	v := map[string]any{
		"id":      hostile,
		"payload": json.RawMessage("{\"a\":\"\x7f\u009b2J\u202e\xff\U0001F600\U000E0001\"}"),
	}
	var buf bytes.Buffer
	if err := writeJSON(&buf, v); err != nil {
		t.Fatal(err)
	}
	if r, ok := terminalSafe(buf.String()); !ok {
		t.Errorf("writeJSON wrote %q raw:\n%s", r, buf.String())
	}
	var back map[string]any
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatalf("writeJSON wrote invalid JSON: %v\n%s", err, buf.String())
	}
	if got, want := back["payload"].(map[string]any)["a"], "\x7f\u009b2J\u202e\uFFFD\U0001F600\U000E0001"; got != want {
		t.Errorf("payload string read back = %q, want %q", got, want)
	}
	if back["id"] != strings.ToValidUTF8(hostile, "\uFFFD") {
		t.Errorf("id read back = %q", back["id"])
	}
}

func TestTableQuotesUnprintableCells(t *testing.T) {
	var buf bytes.Buffer
	tb := newTable(&buf, "ID", "ERROR")
	tb.row("ok-1", "fine")
	tb.row(hostile, "two\nlines\tand a tab")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if r, ok := terminalSafe(out); !ok || strings.Count(out, "\n") != 3 {
		t.Errorf("table wrote %q raw, or broke a row:\n%s", r, out)
	}
	if !strings.Contains(out, `"two\nlines\tand a tab"`) {
		t.Errorf("table lacks the quoted cell:\n%s", out)
	}
}

func TestDescribeEscapesControlCharacters(t *testing.T) {
	a := &app{}
	if got := a.describe(errors.New("no dead letter has ID " + hostile)); !strings.HasPrefix(got, `no dead letter has ID evil\x1b[2J`) {
		t.Errorf("describe = %q", got)
	}
}

// A dead letter whose ID, error, headers and payload hold terminal escapes
// reaches the admin's terminal escaped, in every form dlq prints it.
func TestDLQOutputEscapesForeignText(t *testing.T) {
	srv := natstest.Start(t)
	url := srv.URL()
	c := streamsClient(t, srv)
	h := nats.Header{}
	h.Set("X-Note", "note\x1b[31mred\u009b")
	payload := []byte("{\"a\":\"\x7f\u009b2J\u202e\"}")
	dl := c.Topology().DeadLetterMessage("jobs.mail.thing.do", h, payload, hostile, "mail", "JOBS", 1, job.ReasonFailed, "boom "+hostile+"\nsecond line", 2)
	if _, err := c.JetStream().PublishMsg(t.Context(), dl); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"dlq", "ls"},
		{"dlq", "ls", "--json"},
		{"dlq", "show", hostile},
		{"dlq", "show", "--json", hostile},
		{"dlq", "show", "nope" + hostile},
	} {
		r := jetjobs(t, "", append(args, "-s", url)...)
		if r.Code != 0 && args[2] != "nope"+hostile {
			t.Errorf("%q: exit %d, stderr %q", args, r.Code, r.Stderr)
		}
		for name, out := range map[string]string{"stdout": r.Stdout, "stderr": r.Stderr} {
			if ch, ok := terminalSafe(out); !ok {
				t.Errorf("%q wrote %q raw to %s:\n%s", args, ch, name, out)
			}
		}
		if !strings.Contains(r.Stdout+r.Stderr, "evil") {
			t.Errorf("%q does not show the dead letter's ID:\n%s%s", args, r.Stdout, r.Stderr)
		}
	}
}
