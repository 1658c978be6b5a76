package tracing

import (
	"strings"

	"github.com/nats-io/nats.go"
)

// HeaderCarrier adapts nats.Header to propagation.TextMapCarrier, for code
// that publishes or reads job messages itself. NATS headers are
// case-sensitive; Get falls back to a case-insensitive match so that a
// foreign publisher's "Traceparent" is still read, and Set replaces every
// case variant of the key.
type HeaderCarrier nats.Header

// Get returns the first value of key.
func (c HeaderCarrier) Get(key string) string {
	if v := nats.Header(c).Get(key); v != "" {
		return v
	}
	for k, vs := range c {
		if len(vs) > 0 && strings.EqualFold(k, key) {
			return vs[0]
		}
	}
	return ""
}

// Set sets key to value.
func (c HeaderCarrier) Set(key, value string) {
	for k := range c {
		if k != key && strings.EqualFold(k, key) {
			delete(c, k)
		}
	}
	nats.Header(c).Set(key, value)
}

// Keys lists the header names.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
