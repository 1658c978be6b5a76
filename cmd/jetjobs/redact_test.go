package main

import "testing"

func TestRedactHidesPasswordsAndTokensOfURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://app:s3cret@127.0.0.1:4222", "nats://app:xxxxx@127.0.0.1:4222"},
		{"nats://t0ken@127.0.0.1:4222", "nats://xxxxx@127.0.0.1:4222"},
		{"tls://app:p@ss@host:4222/", "tls://app:xxxxx@host:4222/"},
		{"nats://a:one@h1:4222,nats://b:two@h2:4222, tls://three@h3", "nats://a:xxxxx@h1:4222,nats://b:xxxxx@h2:4222, tls://xxxxx@h3"},
		{`cannot connect: parse "nats://app:s3cret@host:port": invalid port ":port" after host`,
			`cannot connect: parse "nats://app:xxxxx@host:port": invalid port ":port" after host`},
		{"ws://user:pw@host/path@x", "ws://user:xxxxx@host/path@x"},
		{"no URL, but ada@example.com", "no URL, but ada@example.com"},
	} {
		if got := redact(c.in); got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
