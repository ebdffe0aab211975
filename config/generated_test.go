package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedFilesAreCurrent regenerates the CRDs, the RBAC role and the
// DeepCopy methods into a temporary folder and compares them with the
// committed files: a change to an API type or an RBAC marker without
// `make manifests generate` fails here.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cmd := exec.Command("go", "tool", "controller-gen",
		"rbac:roleName=manager-role", "crd", `paths=./...`,
		"output:crd:artifacts:config="+filepath.Join(out, "crd"),
		"output:rbac:artifacts:config="+filepath.Join(out, "rbac"))
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen crd rbac: %v\n%s", err, msg)
	}
	cmd = exec.Command("go", "tool", "controller-gen",
		"object:headerFile=hack/boilerplate.go.txt", `paths=./api/...`,
		"output:object:dir="+filepath.Join(out, "object"))
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("controller-gen object: %v\n%s", err, msg)
	}

	compareDir(t, filepath.Join(out, "crd"), filepath.Join(root, "config", "crd", "bases"))
	compareFile(t, filepath.Join(out, "rbac", "role.yaml"), filepath.Join(root, "config", "rbac", "role.yaml"))
	compareFile(t, filepath.Join(out, "object", "zz_generated.deepcopy.go"), filepath.Join(root, "api", "v1alpha1", "zz_generated.deepcopy.go"))
}

func compareDir(t *testing.T, generated, committed string) {
	t.Helper()
	want, err := os.ReadDir(generated)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadDir(committed)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != len(have) {
		t.Errorf("%s holds %d files, controller-gen makes %d: run make manifests", committed, len(have), len(want))
	}
	for _, f := range want {
		compareFile(t, filepath.Join(generated, f.Name()), filepath.Join(committed, f.Name()))
	}
}

func compareFile(t *testing.T, generated, committed string) {
	t.Helper()
	want, err := os.ReadFile(generated)
	if err != nil {
		t.Fatal(err)
	}
	have, err := os.ReadFile(committed)
	if err != nil {
		t.Errorf("%s is missing: run make manifests generate", committed)
		return
	}
	if string(want) != string(have) {
		t.Errorf("%s is stale: run make manifests generate", committed)
	}
}
