package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// process is one control-plane binary Herald started.
type process struct {
	name string
	cmd  *exec.Cmd
	// output keeps the end of what the process wrote, for the error that
	// explains why it did not come up.
	output *tailBuffer
	exited chan struct{}
	err    error // set before exited closes
}

// spawnRequest asks the spawner thread to start a command.
type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	spawnOnce sync.Once
	spawns    chan spawnRequest
)

// spawn starts cmd from one OS thread that lives as long as Herald. The
// kernel sends a child's parent-death signal when the thread that forked it
// exits, not the process; Go may retire the thread a goroutine ran on, so
// every child is forked from a thread locked for good.
func spawn(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawns = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread must not exit
			for req := range spawns {
				req.done <- req.cmd.Start()
			}
		}()
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawns <- req
	return <-req.done
}

// startProcess runs bin with args. The process gets its own process group,
// so a Ctrl-C in the terminal reaches Herald alone and Herald stops the
// control plane in order, and the kernel kills it when Herald dies without
// doing so.
func startProcess(name, bin string, args []string) (*process, error) {
	p := &process{name: name, output: &tailBuffer{max: 16 << 10}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.output, p.output
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := spawn(p.cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// running reports whether the process has not exited.
func (p *process) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// failure explains an exit before the process was ready.
func (p *process) failure() error {
	return fmt.Errorf("%s exited (%v) before it was ready; the end of its output:\n%s", p.name, p.err, p.output.lastLines(10))
}

// stop asks the process to end, and kills it when it has not after grace.
func (p *process) stop(grace time.Duration) error {
	if !p.running() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return nil
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	select {
	case <-p.exited:
		return fmt.Errorf("%s did not stop within %s of SIGTERM and was killed", p.name, grace)
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// lastLines returns the last n lines written.
func (t *tailBuffer) lastLines(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := strings.Split(strings.TrimRight(string(t.b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// procInfo is what /proc says about a process.
type procInfo struct {
	pid int
	// startTime is when it started, in clock ticks since boot: with the
	// pid, it names one process even after the pid is reused.
	startTime uint64
	zombie    bool
	args      []string
}

// errNoProcess means no process has the pid.
var errNoProcess = errors.New("no such process")

// readProc reads /proc/<pid>.
func readProc(pid int) (procInfo, error) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if errors.Is(err, os.ErrNotExist) {
		return procInfo{}, errNoProcess
	} else if err != nil {
		return procInfo{}, err
	}
	// The command name in parentheses may hold spaces and parentheses;
	// the fields after the last ")" are fixed: state is the first,
	// starttime the twentieth.
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procInfo{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	fields := strings.Fields(string(stat[end+1:]))
	if len(fields) < 20 {
		return procInfo{}, fmt.Errorf("%s/stat: unexpected format", dir)
	}
	start, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return procInfo{}, fmt.Errorf("%s/stat: start time: %w", dir, err)
	}
	info := procInfo{pid: pid, startTime: start, zombie: fields[0] == "Z" || fields[0] == "X"}
	if cmdline, err := os.ReadFile(dir + "/cmdline"); err == nil {
		info.args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	}
	return info, nil
}

// alive reports whether pid is a running process that started at startTime.
func alive(pid int, startTime uint64) bool {
	info, err := readProc(pid)
	return err == nil && !info.zombie && info.startTime == startTime
}

// controlPlaneUsing lists the running etcd and kube-apiserver processes
// whose command line names a path inside dir.
func controlPlaneUsing(dir string) ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var found []procInfo
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		info, err := readProc(pid)
		if err != nil || info.zombie || len(info.args) == 0 {
			continue
		}
		if name := filepath.Base(info.args[0]); name != "etcd" && name != "kube-apiserver" {
			continue
		}
		for _, arg := range info.args[1:] {
			if _, value, ok := strings.Cut(arg, "="); ok {
				arg = value
			}
			if arg == dir || strings.HasPrefix(arg, dir+string(os.PathSeparator)) {
				found = append(found, info)
				break
			}
		}
	}
	return found, nil
}
