package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

// connectError is a failed first connection to NATS. Its message names the
// servers without their secrets and says what to check, matching the cause:
// a refused password needs other credentials, not another server.
type connectError struct {
	servers string // as given to -s, redacted
	err     error
	hint    string
	tried   time.Duration // how long it tried, when more than once
}

func (e *connectError) Error() string {
	after := ""
	if e.tried > 0 {
		after = fmt.Sprintf(" after trying for %s", e.tried)
	}
	return fmt.Sprintf("cannot connect to NATS at %s%s: %s (%s)", e.servers, after, redact(e.err.Error()), e.hint)
}

func (e *connectError) Unwrap() error { return e.err }

// Hints of connectHint and tlsHint.
const (
	hintNoServer = "start a server with `jetjobs server`, or point -s/--server or NATS_URL at yours"
	hintNoAuth   = "the server requires authentication: give --user and --password-file (or NATS_USER and NATS_PASSWORD), --token-file (or NATS_TOKEN), --nkey or --creds"
	hintBadAuth  = "the server refused the credentials: check --user/--password, --token, --nkey or --creds, and NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_NKEY and NATS_CREDS"
	hintExpired  = "the credentials expired or were revoked: get new ones for --creds or --nkey"
	hintNoTLS    = "the server does not offer TLS: connect with a nats:// URL and without --tlsca, --tlscert and --tlskey, or enable TLS on the server"
	hintNeedsTLS = "the server requires TLS: give --tlsca, and --tlscert and --tlskey for mutual TLS, or use a tls:// URL"
	hintNoCA     = "the server's certificate is signed by a CA this machine does not trust: give --tlsca with that CA's certificate"
	hintWrongCA  = "the server's certificate is not signed by the CA of --tlsca: check --tlsca"
	hintHostname = "the server's certificate does not name the host of -s/--server: connect by a name or address it has, or check --tlsca"
	hintBadCert  = "the server's certificate is not valid, for example expired: check it, and --tlsca"
	hintNoCert   = "the server needs a client certificate for mutual TLS: give --tlscert and --tlskey, signed by a CA the server trusts"
	hintCertRef  = "the server refused the client certificate: check --tlscert and --tlskey, which a CA the server trusts must have signed, and --tlsca"
	hintTLS      = "check --tlsca, --tlscert and --tlskey"
	hintDNS      = "check the host name in -s/--server or NATS_URL"
	hintServer   = "check -s/--server or NATS_URL"
)

// connectHint says what to check after a failed first connection, from
// the cause of err (nats.go's sentinel errors, x509 and TLS errors).
func (c connFlags) connectHint(err error) string {
	switch {
	case errors.Is(err, nats.ErrAuthorization):
		if !c.credentialsGiven() {
			return hintNoAuth
		}
		return hintBadAuth
	case errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrAccountAuthExpired), errors.Is(err, nats.ErrAuthRevoked):
		return hintExpired
	case errors.Is(err, nats.ErrSecureConnWanted):
		return hintNoTLS
	case errors.Is(err, nats.ErrSecureConnRequired):
		return hintNeedsTLS
	}
	if h := c.tlsHint(err); h != "" {
		return h
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, syscall.ECONNREFUSED):
		return hintNoServer
	case errors.As(err, &dnsErr):
		return hintDNS
	case errors.Is(err, nats.ErrTimeout), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return c.timeoutHint()
	}
	return hintServer
}

// timeoutHint is connectHint's hint for a server that never answered.
func (c connFlags) timeoutHint() string {
	return fmt.Sprintf("nothing answered within --connect-timeout %s: check -s/--server and any firewall between, or raise --connect-timeout", c.connectTimeout)
}

// tlsHint is connectHint for TLS failures; "" if err is none.
func (c connFlags) tlsHint(err error) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		opErr     *net.OpError
	)
	clientCert := hintCertRef
	if c.tlsCert == "" {
		clientCert = hintNoCert
	}
	switch {
	case errors.As(err, &unknownCA):
		if c.tlsCA == "" {
			return hintNoCA
		}
		return hintWrongCA
	case errors.As(err, &hostname):
		return hintHostname
	case errors.As(err, &invalid):
		return hintBadCert
	case errors.As(err, &verify):
		return hintWrongCA
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		// A TLS alert from the server (crypto/tls has no exported type for
		// it). Past the handshake, as under TLS 1.3, it can only be about
		// the client's certificate.
		return clientCert
	case closedByRemote(err) && (errors.Is(err, nats.ErrTLS) || c.tlsInUse()):
		// Under TLS 1.3 a mutual-TLS server checks the client's
		// certificate after the client finished its handshake, and its
		// alert is often lost to the closed connection: nats.go then says
		// "connection closed by remote after TLS handshake".
		return clientCert
	case errors.Is(err, nats.ErrTLS):
		return hintTLS
	}
	return ""
}

// closedByRemote reports whether err is the other side closing the
// connection.
func closedByRemote(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// credentialsGiven reports whether any authentication is configured, by
// flags or in a server URL.
func (c connFlags) credentialsGiven() bool {
	return c.creds != "" || c.user != "" || c.token != "" || c.nkey != "" || strings.Contains(c.server, "@")
}

// tlsInUse reports whether the client asks for TLS, by flags or a tls://
// or wss:// URL.
func (c connFlags) tlsInUse() bool {
	if c.tlsCA != "" || c.tlsCert != "" {
		return true
	}
	for u := range strings.SplitSeq(c.server, ",") {
		scheme, _, _ := strings.Cut(strings.TrimSpace(u), "://")
		if s := strings.ToLower(scheme); s == "tls" || s == "wss" {
			return true
		}
	}
	return false
}
