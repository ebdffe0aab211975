package cluster

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Down stops the cluster and removes everything it made: its processes
// and their containers, its mounts, its network namespace (with the
// bridge, addresses and iptables rules in it), its cgroups and its folder.
func (c *Cluster) Down() error {
	err := DownAt(c.Dir, c.Log)
	if c.spawns != nil {
		close(c.spawns)
		c.spawns = nil
	}
	return err
}

// DownAt tears down the cluster whose state is in dir, started by this
// process or another (make cluster-down).
func DownAt(dir string, log interface{ Write([]byte) (int, error) }) error {
	var errs []error
	// 1. The containers, then the components (in reverse order of start).
	killWhere(func(pid int) bool { return inKubepods(pid) || shimOf(pid, dir) })
	names, _ := filepath.Glob(filepath.Join(dir, "pids", "*.pid"))
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && cmdlineHas(pid, dir) {
			stop(pid)
		}
	}
	killWhere(func(pid int) bool { return inKubepods(pid) || shimOf(pid, dir) || cmdlineHas(pid, dir) })
	// 2. Mounts below the folder, deepest first.
	for _, m := range mountsUnder(dir) {
		if err := syscall.Unmount(m, syscall.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	// 3. The network namespace, and with it every address, link and rule.
	if err := (netns{netnsName}).delete(); err != nil {
		errs = append(errs, err)
	}
	// 4. The pods' cgroups, and containerd's shim sockets.
	removeCgroups()
	// containerd 1.6 keeps shim sockets here whatever its state folder;
	// the folder goes too once nothing else uses it.
	_ = os.RemoveAll("/run/containerd/s")
	_ = os.RemoveAll("/run/containerd/io.containerd.runtime.v2.task/k8s.io")
	_ = syscall.Rmdir("/run/containerd/io.containerd.runtime.v2.task")
	_ = syscall.Rmdir("/run/containerd")
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if log != nil {
		fmt.Fprintf(log, ">> cluster down: no processes, mounts, network namespace or folder left (%s)\n", dir)
	}
	return errors.Join(errs...)
}

// stop ends a process: SIGTERM, then SIGKILL after ten seconds.
func stop(pid int) {
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

// killWhere kills every process match picks, until none is left.
func killWhere(match func(pid int) bool) {
	for round := 0; round < 50; round++ {
		var found []int
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() && match(pid) {
				found = append(found, pid)
			}
		}
		if len(found) == 0 {
			return
		}
		for _, pid := range found {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func inKubepods(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	return err == nil && strings.Contains(string(data), "/kubepods")
}

func cmdline(pid int) string {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(data), "\x00", " ")
}

func cmdlineHas(pid int, dir string) bool { return strings.Contains(cmdline(pid), dir) }

// shimOf reports whether pid is a containerd shim of this cluster's
// containerd (its -address names the cluster's socket).
func shimOf(pid int, dir string) bool {
	line := cmdline(pid)
	return strings.Contains(line, "containerd-shim") && strings.Contains(line, dir)
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	slices.SortFunc(out, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return slices.Compact(out)
}

// removeCgroups removes the kubelet's kubepods cgroups, deepest first.
func removeCgroups() {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods*")
	unified, _ := filepath.Glob("/sys/fs/cgroup/kubepods*")
	for _, root := range append(roots, unified...) {
		var dirs []string
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		slices.Reverse(dirs)
		for _, d := range dirs {
			_ = syscall.Rmdir(d)
		}
	}
}
