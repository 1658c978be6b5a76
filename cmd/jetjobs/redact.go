package main

import (
	"regexp"
	"strings"
)

// redacted replaces a secret in a URL's user information.
const redacted = "xxxxx"

// userinfo matches the user information of every URL in a text: a scheme,
// then everything up to the last '@' before the host ends (as url.Parse
// reads it). A URL in an error may be malformed, so this works on text
// rather than on a parsed URL, and quoted URLs (url.Error quotes them) end
// at the quote.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#"'@,]*(?:@[^\s/?#"'@,]*)*)@`)

// redact returns s with the secrets of every URL in it replaced: the
// password of user:password@ and the token of token@ (a NATS URL with a
// user name alone authenticates with it as a token). url.URL.Redacted, and
// so nats.Conn.ConnectedUrlRedacted, leave a token in clear.
func redact(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	return userinfo.ReplaceAllStringFunc(s, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if user, _, ok := strings.Cut(info, ":"); ok {
			return scheme + user + ":" + redacted + "@"
		}
		return scheme + redacted + "@"
	})
}
