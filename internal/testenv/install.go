package testenv

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/herald-dev/herald/internal/controlplane"
)

// Kustomize is `kubectl kustomize <dir>`, dir relative to the module root
// (such as config/default), with the kubectl cached beside the control plane.
func Kustomize(dir string) ([]byte, error) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		return nil, err
	}
	root, err := controlplane.ModuleRoot()
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join(root, dir)).Output()
	if err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w", dir, err)
	}
	return out, nil
}

// Objects decodes a multi-document manifest, leaving out empty documents.
func Objects(manifest []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err == io.EOF {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if u.GetKind() != "" {
			objs = append(objs, u)
		}
	}
}

// Install is the objects config/default installs.
func Install() ([]*unstructured.Unstructured, error) {
	out, err := Kustomize("config/default")
	if err != nil {
		return nil, err
	}
	return Objects(out)
}

// HelmTemplate is `helm template herald charts/herald -n namespace
// --include-crds` with vals, through Helm's own library (no helm binary).
func HelmTemplate(namespace string, vals map[string]any) ([]byte, error) {
	root, err := controlplane.ModuleRoot()
	if err != nil {
		return nil, err
	}
	chart, err := loader.Load(filepath.Join(root, "charts", "herald"))
	if err != nil {
		return nil, err
	}
	install := action.NewInstall(&action.Configuration{})
	install.DryRun, install.ClientOnly, install.Replace, install.IncludeCRDs = true, true, true, true
	install.ReleaseName, install.Namespace = "herald", namespace
	rel, err := install.Run(chart, vals)
	if err != nil {
		return nil, fmt.Errorf("helm template charts/herald: %w", err)
	}
	return []byte(rel.Manifest), nil
}
