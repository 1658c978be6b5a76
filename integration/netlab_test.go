package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netPrefix begins the name of every network namespace and link the fault
// suite creates, so that a run can remove what a crashed run left behind.
const netPrefix = "jjf-"

// netSubnet is the private /24 of the lab's bridge; the bridge is .1 and
// the test process reaches every namespace through it.
const netSubnet = "10.231.77"

// longFaults reports whether JETJOBS_FAULT_LONG=1 asks for the long
// variants of the network faults (longer cuts, more jobs), whose figures
// docs/reliability.md records; by default each scenario takes 20–40 s.
func longFaults() bool { return os.Getenv("JETJOBS_FAULT_LONG") == "1" }

// requireRoot skips a test that needs root (network namespaces, traffic
// control, mounts) when it runs without, except under CI=true, where it
// fails: CI runs as root and must run every fault.
func requireRoot(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s needs root; CI must run as root", what)
	}
	tb.Skipf("%s needs root (run the suite as root, as CI does)", what)
}

// netlab is a bridge in the test's network namespace and network
// namespaces attached to it by veth pairs: each namespace is a host with
// its own address, and cutting its veth (link down on the bridge's side)
// cuts it off from every other host as a partition does — packets are
// dropped, connections are not reset.
type netlab struct {
	tb     testing.TB
	bridge string
	hosts  map[string]*nethost
}

// nethost is one namespace of a netlab.
type nethost struct {
	name string // short name, such as "n1"
	ns   string // namespace name
	veth string // the bridge's end of its link
	ip   string
}

// newNetlab creates the bridge, after removing what an earlier run left
// behind; everything it and its hosts create is removed when the test ends,
// also when it fails.
func newNetlab(tb testing.TB) *netlab {
	tb.Helper()
	requireRoot(tb, "network namespaces")
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("the network faults need %s (Debian: apt-get install iproute2 nftables; .ci/run installs them): %v", tool, err)
		}
	}
	removeNetLeftovers(tb)
	l := &netlab{tb: tb, bridge: netPrefix + "br", hosts: map[string]*nethost{}}
	tb.Cleanup(func() { removeNetLeftovers(tb) })
	l.run("ip", "link", "add", l.bridge, "type", "bridge")
	l.run("ip", "addr", "add", netSubnet+".1/24", "dev", l.bridge)
	l.run("ip", "link", "set", l.bridge, "up")
	return l
}

// removeNetLeftovers deletes every namespace and link whose name begins
// with netPrefix.
func removeNetLeftovers(tb testing.TB) {
	tb.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], netPrefix) {
			if b, err := exec.Command("ip", "netns", "del", f[0]).CombinedOutput(); err != nil {
				tb.Errorf("remove network namespace %s: %v: %s", f[0], err, b)
			}
		}
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for line := range strings.Lines(string(out)) {
		// "7: jjf-n1@if2: <...>"
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		if strings.HasPrefix(name, netPrefix) {
			if b, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil && !strings.Contains(string(b), "Cannot find device") {
				tb.Errorf("remove link %s: %v: %s", name, err, b)
			}
		}
	}
}

func (l *netlab) run(args ...string) {
	l.tb.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		l.tb.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// host adds a namespace named netPrefix+name with address netSubnet.octet.
func (l *netlab) host(name string, octet int) *nethost {
	l.tb.Helper()
	h := &nethost{name: name, ns: netPrefix + name, veth: netPrefix + name, ip: fmt.Sprintf("%s.%d", netSubnet, octet)}
	l.run("ip", "netns", "add", h.ns)
	l.run("ip", "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.ns)
	l.run("ip", "link", "set", h.veth, "master", l.bridge, "up")
	l.run("ip", "-n", h.ns, "addr", "add", h.ip+"/24", "dev", "eth0")
	l.run("ip", "-n", h.ns, "link", "set", "eth0", "up")
	l.run("ip", "-n", h.ns, "link", "set", "lo", "up")
	l.hosts[name] = h
	return h
}

// cut takes the bridge's end of h's link down: h and everything in its
// namespace can reach each other, and nothing else. heal brings it back.
func (l *netlab) cut(h *nethost)  { l.run("ip", "link", "set", h.veth, "down") }
func (l *netlab) heal(h *nethost) { l.run("ip", "link", "set", h.veth, "up") }

// nft runs an nftables script in h's namespace.
func (l *netlab) nft(h *nethost, script string) {
	l.tb.Helper()
	cmd := exec.Command("ip", "netns", "exec", h.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		l.tb.Fatalf("nft in %s: %v: %s\n%s", h.ns, err, out, script)
	}
}

// startWorkerIn starts a test worker in h's namespace and waits until its
// pool runs.
func startWorkerIn(tb testing.TB, h *nethost, dir, name, servers string, opts ...string) *workerProc {
	tb.Helper()
	args := append([]string{"netns", "exec", h.ns, bin.testworker, "-server", servers, "-name", name, "-record", filepath.Join(dir, name+".rec")}, opts...)
	p := &workerProc{proc: startProc(tb, "worker "+name, filepath.Join(dir, name+".log"), nil, "ip", args...), name: name}
	waitFor(tb, 30*time.Second, 20*time.Millisecond, func() bool {
		if p.exited() {
			tb.Fatalf("worker %s exited before it was ready:\n%s", name, tail(p.logPath, 20))
		}
		return p.logContains("ready\n")
	}, "worker %s ready", name)
	return p
}

// netCluster is three nats-server processes, each in a namespace of lab,
// forming one JetStream cluster.
func netCluster(tb testing.TB, lab *netlab) *cluster {
	tb.Helper()
	const port, httpPort, clusterPort = 4222, 8222, 6222
	var hosts []string
	for i := range 3 {
		hosts = append(hosts, lab.host(fmt.Sprintf("n%d", i+1), 11+i).ip)
	}
	c := &cluster{}
	for i := range 3 {
		name := fmt.Sprintf("n%d", i+1)
		c.nodes = append(c.nodes, newNATSServer(tb, natsServerConfig{
			name: name, host: hosts[i], port: port, httpPort: httpPort, clusterPort: clusterPort,
			routes: []int{clusterPort, clusterPort, clusterPort}, routeHosts: hosts, netns: lab.hosts[name].ns,
		}))
	}
	for _, n := range c.nodes {
		n.start()
	}
	return c
}
