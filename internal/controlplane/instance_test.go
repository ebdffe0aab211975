package controlplane

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockFolderRefusesASecondHerald(t *testing.T) {
	dir := t.TempDir()
	first := Instance{PID: 4242, MCPEndpoint: "http://127.0.0.1:8080/mcp", Started: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	lock, err := LockFolder(dir, first)
	if err != nil {
		t.Fatal(err)
	}
	_, err = LockFolder(dir, Instance{PID: 4343})
	var held *AlreadyRunningError
	if !errors.As(err, &held) {
		t.Fatalf("second LockFolder = %v, want an AlreadyRunningError", err)
	}
	if held.Holder.PID != 4242 || held.Holder.MCPEndpoint != first.MCPEndpoint {
		t.Errorf("holder = %+v, want the first Herald", held.Holder)
	}
	for _, want := range []string{"already running on the data folder " + dir, "pid 4242", "its MCP endpoint is http://127.0.0.1:8080/mcp", "kill 4242", "--data-dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	if err := lock.Unlock(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, instanceFileName)); !os.IsNotExist(err) {
		t.Errorf("the description of a stopped Herald stays: %v", err)
	}
	again, err := LockFolder(dir, Instance{PID: 4343})
	if err != nil {
		t.Fatalf("LockFolder after Unlock = %v", err)
	}
	_ = again.Unlock()
}

func TestPKIIsKeptAndRepaired(t *testing.T) {
	p := pki{dir: filepath.Join(t.TempDir(), "pki")}
	if err := p.ensure(); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(p.path(caCertFile))
	if err := p.ensure(); err != nil {
		t.Fatal(err)
	}
	if kept, _ := os.ReadFile(p.path(caCertFile)); string(kept) != string(ca) {
		t.Error("a second start made a new CA; kubeconfigs and tokens of the first would stop working")
	}
	if err := os.WriteFile(p.path(adminCertFile), []byte("cut short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if p.complete() {
		t.Fatal("a damaged certificate counts as complete")
	}
	if err := p.ensure(); err != nil {
		t.Fatal(err)
	}
	if !p.complete() {
		t.Error("ensure did not repair the set")
	}
}

func TestReadProc(t *testing.T) {
	self, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if self.startTime == 0 || self.zombie || len(self.args) == 0 {
		t.Errorf("readProc(self) = %+v", self)
	}
	if !alive(os.Getpid(), self.startTime) {
		t.Error("this process is not alive by its own start time")
	}
	if alive(os.Getpid(), self.startTime+1) {
		t.Error("a pid with another start time counts as the same process")
	}
	if _, err := readProc(1 << 30); !errors.Is(err, errNoProcess) {
		t.Errorf("readProc(no such pid) = %v, want errNoProcess", err)
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 32}
	for i := range 20 {
		_, _ = b.Write([]byte(strings.Repeat("x", i%3) + "line\n"))
	}
	_, _ = b.Write([]byte("fatal: the reason\n"))
	if got := b.lastLines(1); got != "fatal: the reason" {
		t.Errorf("lastLines(1) = %q", got)
	}
	if len(b.b) > 32 {
		t.Errorf("kept %d bytes, want at most 32", len(b.b))
	}
}
