package main

import (
	"strings"
	"testing"
)

// Secrets that net/url cannot read as a password: '/', '?', '#', ',', a
// space and '@' in it. Each must vanish from every form of output.
var awkwardPasswords = []string{"pa/ss", "pa?ss", "pa#ss", "pa,ss", "pa ss", "p@ss", "a/b?c#d,e f@g", "12#34"}

func TestRedactServersHidesPasswordsAndTokens(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://app:s3cret@127.0.0.1:4222", "nats://app:xxxxx@127.0.0.1:4222"},
		{"nats://t0ken@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222"},
		{"tls://app:p@ss@host:4222/", "tls://app:xxxxx@host:4222/"},
		{"nats://a:one@h1:4222,nats://b:two@h2:4222, tls://three@h3", "nats://a:xxxxx@h1:4222,nats://b:xxxxx@h2:4222, tls://xxxxx@h3"},
		// Passwords net/url misreads or refuses.
		{"nats://app:pa/ss@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:pa?ss@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:pa#ss@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:12#34@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:pa ss@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:pa,ss@host:4222", "nats://app:xxxxx@host:4222"},
		{"nats://app:a/b?c#d,e f@g@host:4222,nats://tok/en@h2", "nats://app:xxxxx@host:4222,nats://xxxxx@h2"},
		{"nats://a:pa,ss@h1, nats://b:c,d@h2", "nats://a:xxxxx@h1, nats://b:xxxxx@h2"},
		{"ws://tok#en@host/path", "ws://xxxxx@host/path"},
		// Without a scheme, as nats.go takes them too.
		{"app:s3cret@127.0.0.1:4222", "app:xxxxx@127.0.0.1:4222"},
		{"t0ken@127.0.0.1", "xxxxx@127.0.0.1"},
		{"h1:4222,app:pa,ss@h2:4222", "h1:xxxxx@h2:4222"},
		{"nats://h1,app:pw@h2", "nats://h1,app:xxxxx@h2"},
		{"h1:4222,h2:4222", "h1:4222,h2:4222"},
		// Percent-encoded, and IPv6.
		{"nats://app:pa%2Fss@[::1]:4222", "nats://app:xxxxx@[::1]:4222"},
		{"http://user:pw@127.0.0.1:8080/jobs/invoice?x=1", "http://user:xxxxx@127.0.0.1:8080/jobs/invoice?x=1"},
	} {
		if got := redactServers(c.in); got != c.want {
			t.Errorf("redactServers(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestRedactHidesSecretsOfURLsInText(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"no URL, but ada@example.com", "no URL, but ada@example.com"},
		{"reached nats://127.0.0.1:4222, mail ada@example.com", "reached nats://127.0.0.1:4222, mail ada@example.com"},
		{"nats://a:one@h1:4222,nats://b:two@h2:4222, tls://three@h3", "nats://a:xxxxx@h1:4222,nats://b:xxxxx@h2:4222, tls://xxxxx@h3"},
		{`cannot connect: parse "nats://app:s3cret@host:port": invalid port ":port" after host`,
			`cannot connect: parse "nats://app:xxxxx@host:port": invalid port ":port" after host`},
		// url.Error quotes the URL: the quotes bound it, spaces and all.
		{`parse "nats://app:pa ss@host:4222": invalid character " " in host name`,
			`parse "nats://app:xxxxx@host:4222": invalid character " " in host name`},
		{`parse "nats://app:a/b?c#d,e f@g@host": bad`, `parse "nats://app:xxxxx@host": bad`},
		{`parse "nats://app:pa\"ss@host": bad`, `parse "nats://app:xxxxx@host": bad`},
		{"Post http://user:pa/ss@127.0.0.1:1/x: refused", "Post http://user:xxxxx@127.0.0.1:1/x: refused"},
		{"dial nats://tok#en@h:4222 and nats://h2", "dial nats://xxxxx@h:4222 and nats://h2"},
		{"nats://app:pa,ss@host", "nats://app:xxxxx@host"},
	} {
		if got := redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, pw := range awkwardPasswords {
		for _, in := range []string{"nats://app:" + pw + "@127.0.0.1:4222", "nats://" + pw + "@127.0.0.1:4222", "127.0.0.1:1,app:" + pw + "@127.0.0.1:4222"} {
			if got := redactServers(in); strings.Contains(got, pw) || !strings.Contains(got, "xxxxx@127.0.0.1:4222") {
				t.Errorf("redactServers(%q) = %q", in, got)
			}
		}
		if got := redact(`parse "nats://app:` + pw + `@127.0.0.1:4222": invalid`); strings.Contains(got, pw) {
			t.Errorf("redact of a quoted URL with password %q = %q", pw, got)
		}
	}
}
