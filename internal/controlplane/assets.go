// Package controlplane finds (building when missing) the kube-apiserver and
// etcd binaries that tests and the embedded development cluster run, and
// starts that cluster.
package controlplane

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// AssetsEnv is the variable envtest reads for the folder holding the binaries.
const AssetsEnv = "KUBEBUILDER_ASSETS"

// AssetsDir returns the folder holding kube-apiserver and etcd. It honours
// KUBEBUILDER_ASSETS; otherwise it runs hack/controlplane/build.sh, which
// builds the pinned versions into a cache folder once and prints it.
func AssetsDir() (string, error) {
	if dir := os.Getenv(AssetsEnv); dir != "" {
		if err := checkAssets(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", AssetsEnv, dir, err)
		}
		return dir, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("bash", filepath.Join(root, "hack", "controlplane", "build.sh"))
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr // progress of a first build
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building the control-plane binaries with hack/controlplane/build.sh: %w", err)
	}
	dir := strings.TrimSpace(out.String())
	if err := checkAssets(dir); err != nil {
		return "", err
	}
	return dir, nil
}

func checkAssets(dir string) error {
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if fi, err := os.Stat(filepath.Join(dir, bin)); err != nil || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("no executable %s in %s", bin, dir)
		}
	}
	return nil
}

// ModuleRoot returns the folder of Herald's go.mod, searching upwards from the
// working directory (tests run in their package's folder).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module github.com/herald-dev/herald\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Herald source tree: set KUBEBUILDER_ASSETS to a folder holding kube-apiserver and etcd")
		}
		dir = parent
	}
}
