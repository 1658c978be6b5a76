package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Dead letters, schedules and errors carry text that anyone allowed to
// publish a job wrote: an ID or header holding terminal escape sequences
// would otherwise reach the terminal of the admin who lists them, to
// recolour, retitle or rewrite it. Human output passes such text through
// printable or escapeUnprintable; JSON output through escapeJSON.

// printable returns s as it is when it is valid UTF-8 of printable
// characters and spaces, and quoted as a Go string otherwise, so that the
// reader sees at once that it holds more than it shows.
func printable(s string) string {
	if isPrintable(s) {
		return s
	}
	return strconv.Quote(s)
}

// isPrintable reports whether s is valid UTF-8 of printable characters and
// spaces: no control characters (C0, DEL, C1), no invisible format
// characters such as bidirectional overrides.
func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			return false
		}
	}
	return true
}

// escapeUnprintable returns s with each unprintable character replaced by
// its Go escape (\x1b, \u202e), for a line of text such as an error: the
// line stays readable where quoting it whole would not be.
func escapeUnprintable(s string) string {
	if isPrintable(s) {
		return s
	}
	var b strings.Builder
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			q := strconv.Quote(s[:n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[:n])
		}
		s = s[n:]
	}
	return b.String()
}

// escapeJSON returns JSON text with every character that encoding/json
// leaves raw but a terminal may act on escaped: DEL, the C1 controls and
// other unprintable characters become \u escapes, bytes that are not
// UTF-8 U+FFFD. encoding/json escapes only the C0 controls, and a
// json.RawMessage (a dead letter's payload) passes through unchanged.
// Outside strings JSON is printable ASCII and white space, so each
// character it escapes is inside a string, where \u is valid.
func escapeJSON(js []byte) []byte {
	clean := true
	for _, c := range js {
		if c >= 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return js
	}
	out := make([]byte, 0, len(js)+16)
	for len(js) > 0 {
		r, n := utf8.DecodeRune(js)
		switch {
		case r == utf8.RuneError && n <= 1:
			out = append(out, `\ufffd`...)
		case r >= 0x7f && !unicode.IsPrint(r):
			if r > 0xffff { // a surrogate pair, as JSON writes it
				r1, r2 := utf16.EncodeRune(r)
				out = appendU(appendU(out, r1), r2)
			} else {
				out = appendU(out, r)
			}
		default:
			out = append(out, js[:n]...)
		}
		js = js[n:]
	}
	return out
}

func appendU(b []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(b, '\\', 'u', hex[r>>12&0xf], hex[r>>8&0xf], hex[r>>4&0xf], hex[r&0xf])
}
