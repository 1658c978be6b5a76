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
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// The hint of a failed connection follows its cause. The errors are built
// as nats.go and crypto/tls return them; connect_e2e_test.go meets the
// real ones from real servers.
func TestConnectHintMatchesTheCause(t *testing.T) {
	tlsErr := func(err error) error { return fmt.Errorf("%w: %w", nats.ErrTLS, err) }
	verify := func(err error) error { return tlsErr(&tls.CertificateVerificationError{Err: err}) }
	plain := connFlags{server: "nats://127.0.0.1:4222", connectTimeout: 2 * time.Second}
	withCA := connFlags{server: "nats://127.0.0.1:4222", tlsCA: "ca.pem"}
	withCert := connFlags{server: "nats://127.0.0.1:4222", tlsCA: "ca.pem", tlsCert: "c.pem", tlsKey: "k.pem"}
	tlsURL := connFlags{server: "nats://a:4222, tls://b:4222"}
	withPassword := connFlags{server: "nats://127.0.0.1:4222", user: "app", password: "pw"}
	passwordInURL := connFlags{server: "nats://app:pw@127.0.0.1:4222"}
	closedAfterHandshake := fmt.Errorf("%w: connection closed by remote after TLS handshake: %w", nats.ErrTLS, io.EOF)
	for _, c := range []struct {
		name  string
		flags connFlags
		err   error
		want  string
	}{
		{"refused", plain, nats.ErrNoServers, hintNoServer},
		{"refused by the OS", plain, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, hintNoServer},
		{"no such host", plain, &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nats.invalid", IsNotFound: true}}, hintDNS},
		{"timeout", plain, &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, "--connect-timeout 2s"},
		{"no credentials", plain, nats.ErrAuthorization, hintNoAuth},
		{"wrong password", withPassword, nats.ErrAuthorization, hintBadAuth},
		{"wrong password in the URL", passwordInURL, nats.ErrAuthorization, hintBadAuth},
		{"expired", withPassword, nats.ErrAuthExpired, hintExpired},
		{"revoked", withPassword, nats.ErrAuthRevoked, hintExpired},
		{"server without TLS", withCA, nats.ErrSecureConnWanted, hintNoTLS},
		{"server requires TLS", plain, nats.ErrSecureConnRequired, hintNeedsTLS},
		{"unknown authority, no --tlsca", plain, verify(x509.UnknownAuthorityError{}), hintNoCA},
		{"unknown authority, --tlsca", withCA, verify(x509.UnknownAuthorityError{}), hintWrongCA},
		{"wrong host", withCA, verify(x509.HostnameError{Host: "10.0.0.1", Certificate: &x509.Certificate{}}), hintHostname},
		{"expired server certificate", withCA, verify(x509.CertificateInvalidError{Reason: x509.Expired, Cert: &x509.Certificate{}}), hintBadCert},
		{"client certificate refused by an alert", withCert, &net.OpError{Op: "remote error", Err: errors.New("tls: bad certificate")}, hintCertRef},
		{"client certificate missing, alert", withCA, &net.OpError{Op: "remote error", Err: errors.New("tls: certificate required")}, hintNoCert},
		{"closed after the handshake, no certificate", withCA, closedAfterHandshake, hintNoCert},
		{"closed after the handshake, certificate", withCert, closedAfterHandshake, hintCertRef},
		{"closed after the handshake, server upgraded", plain, closedAfterHandshake, hintNoCert},
		{"connection reset with --tlsca", withCA, &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, hintNoCert},
		{"EOF with a tls:// URL", tlsURL, io.EOF, hintNoCert},
		{"EOF without TLS", plain, io.EOF, hintServer},
		{"other TLS error", withCA, tlsErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), hintTLS},
	} {
		if got := c.flags.connectHint(c.err); !strings.Contains(got, c.want) {
			t.Errorf("%s: hint for %v = %q, want %q", c.name, c.err, got, c.want)
		}
	}
}
