package natstest

import (
	"bufio"
	"io"
	"net"
	"regexp"
	"sync"
	"testing"
)

var versionField = regexp.MustCompile(`"version":"[^"]*"`)

// WithVersion returns the URL of a proxy to s that reports version as the
// server's version in the INFO it sends to clients; everything else passes
// unchanged. It lets tests run the paths for older servers (no message
// schedules before 2.12, no periodic ones before 2.14) against a real one.
// The proxy stops at the end of the test.
func (s *Server) WithVersion(tb testing.TB, version string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("natstest: proxy listen: %v", err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	track := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			upstream, err := net.Dial("tcp", s.Addr().String())
			if err != nil {
				client.Close()
				continue
			}
			track(client)
			track(upstream)
			wg.Add(2)
			go func() { // server to client, INFO rewritten
				defer wg.Done()
				defer client.Close()
				r := bufio.NewReader(upstream)
				for {
					line, err := r.ReadBytes('\n')
					if len(line) > 0 {
						if len(line) > 5 && string(line[:5]) == "INFO " {
							line = versionField.ReplaceAll(line, []byte(`"version":"`+version+`"`))
						}
						if _, werr := client.Write(line); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
			go func() { // client to server
				defer wg.Done()
				defer upstream.Close()
				_, _ = io.Copy(upstream, client)
			}()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "nats://" + ln.Addr().String()
}
