package main

import (
	"regexp"
	"strings"
	"unicode"
)

// redacted replaces a secret in a URL's user information.
const redacted = "xxxxx"

// A secret in a URL must be hidden even when the URL is malformed: a
// password holding '/', '?', '#', ',' or a space is not valid in a URL,
// and net/url then reads part of it as the host, path or fragment, or
// fails. So redaction does not trust a parse: the user information of a
// URL is everything from the scheme's "://" to the last '@' of the URL.
// That over-redacts a URL with an '@' in its path or query, which no NATS
// URL has and --http refuses; it never shows part of a password.

// urlScheme matches the start of a URL: its scheme and "://".
var urlScheme = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://`)

// redactServers returns list, the URLs of -s/--server, NATS_URL or
// --http, with the password of user:password@ and the token of token@
// replaced (a NATS URL with a user name alone authenticates with it as a
// token). url.URL.Redacted, and so nats.Conn.ConnectedUrlRedacted, leave a
// token in clear.
//
// list holds one or more URLs separated by commas, with or without a
// scheme, as nats.go takes them. A comma may also be part of a password,
// so a URL ends only where the next one starts with a scheme: the '@'
// that ends the user information is the last one before that.
func redactServers(list string) string {
	if !strings.Contains(list, "@") {
		return list
	}
	starts := []int{0}
	for i := range len(list) {
		if list[i] != ',' {
			continue
		}
		if loc := urlScheme.FindStringIndex(strings.TrimLeft(list[i+1:], " \t")); loc != nil && loc[0] == 0 {
			starts = append(starts, i+1)
		}
	}
	starts = append(starts, len(list))
	var b strings.Builder
	for k := range len(starts) - 1 {
		b.WriteString(redactURL(list[starts[k]:starts[k+1]]))
	}
	return b.String()
}

// redactURL redacts the user information of one URL, u: from its scheme's
// "://" (or its start) to its last '@'.
func redactURL(u string) string {
	from, at := userinfo(u)
	if at < 0 {
		return u
	}
	return u[:from] + maskUserinfo(u[from:at]) + u[at:]
}

// userinfo returns where the user information of URL u starts, after its
// scheme's "://" or at its start, and the index of the '@' that ends it:
// the last one (-1 when there is none).
func userinfo(u string) (from, at int) {
	if loc := urlScheme.FindStringIndex(u); loc != nil && strings.TrimSpace(u[:loc[0]]) == "" {
		from = loc[1]
	}
	at = strings.LastIndexByte(u[from:], '@')
	if at >= 0 {
		at += from
	}
	return from, at
}

// withoutUserinfo is u without its user information and its '@'.
func withoutUserinfo(u string) string {
	from, at := userinfo(u)
	if at < 0 {
		return u
	}
	return u[:from] + u[at+1:]
}

// maskUserinfo keeps the user name of user:password and hides the
// password, or hides the whole of a token.
func maskUserinfo(info string) string {
	if user, _, ok := strings.Cut(info, ":"); ok {
		return user + ":" + redacted
	}
	return redacted
}

// redact returns s, a text such as an error message, with the secrets of
// every URL in it replaced as redactServers replaces them. In a text a URL
// ends where the next one starts, at white space, or, when it follows a
// quote (url.Error quotes its URL), at the closing quote: so a quoted URL
// keeps its secrets hidden even with a space in its password.
//
// Prefer redactServers for a value known to be URLs: redact does not see
// a URL without a scheme.
func redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	locs := urlScheme.FindAllStringIndex(s, -1)
	var b strings.Builder
	done := 0
	for k, loc := range locs {
		start, end := loc[1], len(s)
		if k+1 < len(locs) {
			end = locs[k+1][0]
		}
		if q := loc[0] - 1; q >= 0 && (s[q] == '"' || s[q] == '\'' || s[q] == '`') {
			if n := closingQuote(s[start:end], s[q]); n >= 0 {
				end = start + n
			}
		} else if n := strings.IndexFunc(s[start:end], unicode.IsSpace); n >= 0 {
			end = start + n
		}
		at := strings.LastIndexByte(s[start:end], '@')
		if at < 0 {
			continue
		}
		b.WriteString(s[done:start])
		b.WriteString(maskUserinfo(s[start : start+at]))
		done = start + at
	}
	b.WriteString(s[done:])
	return b.String()
}

// closingQuote returns the index in s of the first quote q that no
// backslash escapes, or -1.
func closingQuote(s string, q byte) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case q:
			return i
		}
	}
	return -1
}
