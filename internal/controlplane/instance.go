package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Instance describes the Herald that runs on a data folder, for a second
// one started on the same folder to say where the first is.
type Instance struct {
	PID         int       `json:"pid"`
	MCPEndpoint string    `json:"mcpEndpoint"`
	Started     time.Time `json:"started"`
}

// The data folder's lock and the description of its holder.
const (
	lockFileName     = "herald.lock"
	instanceFileName = "herald.json"
)

// AlreadyRunningError is the answer to a second Herald on a data folder.
type AlreadyRunningError struct {
	DataDir string
	// Holder is the running Herald; its PID is 0 when its description
	// could not be read.
	Holder Instance
}

func (e *AlreadyRunningError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("another Herald is already running on the data folder %s; stop it first, or pass --data-dir to use another folder", e.DataDir)
	}
	return fmt.Sprintf("Herald is already running on the data folder %s (pid %d, since %s), its MCP endpoint is %s; "+
		"use that one, stop it (Ctrl-C in its terminal, or kill %d), or pass --data-dir to use another folder",
		e.DataDir, e.Holder.PID, e.Holder.Started.Local().Format(time.DateTime), e.Holder.MCPEndpoint, e.Holder.PID)
}

// FolderLock is one Herald's hold on a data folder. The kernel releases it
// when the process ends, however it ends, so it never goes stale.
type FolderLock struct {
	file    *os.File
	dataDir string
}

// LockFolder takes dataDir for the Herald described by me, or returns an
// *AlreadyRunningError naming the Herald that holds it.
func LockFolder(dataDir string, me Instance) (*FolderLock, error) {
	dataDir, err := filepath.Abs(dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dataDir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			held := &AlreadyRunningError{DataDir: dataDir}
			if data, err := os.ReadFile(filepath.Join(dataDir, instanceFileName)); err == nil {
				_ = json.Unmarshal(data, &held.Holder)
			}
			return nil, held
		}
		return nil, fmt.Errorf("locking the data folder %s: %w", dataDir, err)
	}
	data, err := json.Marshal(me)
	if err == nil {
		err = os.WriteFile(filepath.Join(dataDir, instanceFileName), data, 0o600)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("describing this Herald in %s: %w", dataDir, err)
	}
	return &FolderLock{file: f, dataDir: dataDir}, nil
}

// Unlock lets another Herald use the folder.
func (l *FolderLock) Unlock() error {
	_ = os.Remove(filepath.Join(l.dataDir, instanceFileName))
	return l.file.Close() // closing the only descriptor releases the lock
}
