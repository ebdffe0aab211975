package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// netns is the network namespace the whole cluster lives in: its bridge,
// node, pod and service addresses, iptables rules and ip_forward exist only
// there, and vanish with it.
type netns struct{ name string }

func (n netns) path() string { return filepath.Join("/run/netns", n.name) }

// create makes the namespace with its loopback and the bridge the node and
// its pods share, at the node's address.
func (n netns) create() error {
	if _, err := os.Stat(n.path()); err == nil {
		return fmt.Errorf("network namespace %s already exists: another cluster runs on this machine (make cluster-down removes it)", n.name)
	}
	steps := [][]string{
		{"ip", "netns", "add", n.name},
		{"ip", "-n", n.name, "link", "set", "lo", "up"},
		{"ip", "-n", n.name, "link", "add", bridgeName, "type", "bridge"},
		{"ip", "-n", n.name, "addr", "add", nodeIP + "/24", "dev", bridgeName},
		{"ip", "-n", n.name, "link", "set", bridgeName, "up"},
		// The node's own connections to a ClusterIP need a route for
		// kube-proxy's rules to rewrite; the namespace has no other.
		{"ip", "-n", n.name, "route", "add", serviceCIDR, "dev", bridgeName},
		// Pod to Service to pod goes through the node's forwarding, inside
		// the namespace only.
		{"ip", "netns", "exec", n.name, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(s, " "), err, out)
		}
	}
	return nil
}

// delete removes the namespace and everything in it.
func (n netns) delete() error {
	if _, err := os.Stat(n.path()); err != nil {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", n.name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns delete %s: %v: %s", n.name, err, out)
	}
	return nil
}

// command runs name inside the namespace, in the machine's own mount
// namespace (nsenter --net, unlike ip netns exec, leaves mounts shared, so
// the kubelet's volume mounts are what containerd sees).
func (n netns) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + n.path(), "--", name}, args...)...)
}

// DialContext opens a connection from inside the namespace: the socket is
// made on a thread that entered it, and stays there. The thread is never
// returned to the runtime (it exits with its goroutine), so no other code
// runs in the cluster's network by accident.
func (n netns) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	type result struct {
		conn net.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		fd, err := unix.Open(n.path(), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- result{err: fmt.Errorf("opening %s: %w", n.path(), err)}
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- result{err: fmt.Errorf("entering %s: %w", n.path(), err)}
			return
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, network, addr)
		done <- result{conn, err}
	}()
	select {
	case r := <-done:
		return r.conn, r.err
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, ctx.Err()
	}
}
