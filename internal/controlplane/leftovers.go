package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// pidFileName records, in the data folder, the processes of the control
// plane running on it, so a start after a hard stop recognises what an
// earlier Herald left behind.
const pidFileName = "controlplane.pids"

// pidRecord names one process for good: a pid is reused, a pid with its
// start time is not.
type pidRecord struct {
	Name      string `json:"name"`
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

func writePIDFile(dataDir string, procs []*process) error {
	records := make([]pidRecord, 0, len(procs))
	for _, p := range procs {
		info, err := readProc(p.cmd.Process.Pid)
		if err != nil {
			return fmt.Errorf("reading /proc for %s: %w", p.name, err)
		}
		records = append(records, pidRecord{Name: p.name, PID: info.pid, StartTime: info.startTime})
	}
	data, err := json.Marshal(records)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, pidFileName), data, 0o600)
}

func readPIDFile(dataDir string) ([]pidRecord, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, pidFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var records []pidRecord
	if err := json.Unmarshal(data, &records); err != nil {
		// A file cut short by a crash records nothing usable; what it
		// named is found by the scan of /proc instead.
		return nil, nil
	}
	return records, nil
}

// stopLeftovers stops the control plane an earlier Herald left running on
// dataDir (it is recorded in the pid file with its start time) and returns
// what it stopped. A control-plane process that uses the folder but is not
// recorded is someone else's to stop: the error names it and says how.
func stopLeftovers(dataDir string) ([]string, error) {
	records, err := readPIDFile(dataDir)
	if err != nil {
		return nil, err
	}
	var stopped []string
	// Recorded in start order; the API server stops before its etcd.
	for i := len(records) - 1; i >= 0; i-- {
		r := records[i]
		if !alive(r.PID, r.StartTime) {
			continue
		}
		if err := stopOrphan(r); err != nil {
			return stopped, err
		}
		stopped = append(stopped, fmt.Sprintf("%s (pid %d)", r.Name, r.PID))
	}
	if err := os.Remove(filepath.Join(dataDir, pidFileName)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return stopped, err
	}

	others, err := controlPlaneUsing(dataDir)
	if err != nil {
		return stopped, fmt.Errorf("looking for a control plane already running on %s: %w", dataDir, err)
	}
	if len(others) > 0 {
		var names, pids []string
		for _, p := range others {
			names = append(names, fmt.Sprintf("%s (pid %d)", filepath.Base(p.args[0]), p.pid))
			pids = append(pids, fmt.Sprint(p.pid))
		}
		return stopped, fmt.Errorf("%s already running on the data folder %s, and no Herald recorded starting it, so Herald leaves it alone; "+
			"stop it (kill %s) and start again, or pass --data-dir to use another folder",
			strings.Join(names, " and "), dataDir, strings.Join(pids, " "))
	}
	return stopped, nil
}

// stopOrphan ends a process Herald is not the parent of, so cannot wait
// for: it polls /proc until the process is gone (a zombie counts).
func stopOrphan(r pidRecord) error {
	gone := func(within time.Duration) bool {
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if !alive(r.PID, r.StartTime) {
				return true
			}
			time.Sleep(50 * time.Millisecond)
		}
		return !alive(r.PID, r.StartTime)
	}
	if err := syscall.Kill(r.PID, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping the %s (pid %d) an earlier Herald left running: %w", r.Name, r.PID, err)
	}
	if gone(10 * time.Second) {
		return nil
	}
	_ = syscall.Kill(r.PID, syscall.SIGKILL)
	if gone(10 * time.Second) {
		return nil
	}
	return fmt.Errorf("the %s (pid %d) an earlier Herald left running did not exit after SIGKILL", r.Name, r.PID)
}
