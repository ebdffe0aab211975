package memlimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroupLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name    string
		files   []string
		want    int64
		wantErr bool
	}{
		{"cgroup v2 limit", []string{write("v2", "536870912\n")}, 536870912, false},
		{"cgroup v2 without a limit", []string{write("v2max", "max\n")}, 0, false},
		{"cgroup v1 without a limit", []string{filepath.Join(dir, "missing"), write("v1", "9223372036854771712\n")}, 0, false},
		{"cgroup v1 limit after a missing v2 file", []string{filepath.Join(dir, "missing"), write("v1lim", "268435456")}, 268435456, false},
		{"no cgroup files", []string{filepath.Join(dir, "missing")}, 0, false},
		{"garbage", []string{write("bad", "lots")}, 0, true},
	} {
		got, err := cgroupLimit(c.files)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: got %d, %v; want %d, error %v", c.name, got, err, c.want, c.wantErr)
		}
	}
}

func TestGOMEMLIMITWins(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "100MiB")
	if got, err := Set(); got != 0 || err != nil {
		t.Errorf("Set with GOMEMLIMIT in the environment set %d, %v; want it left alone", got, err)
	}
}
