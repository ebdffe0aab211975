// Command chart writes the parts of charts/herald that come from the
// generated manifests: the CRDs (charts/herald/crds) and the RBAC
// (charts/herald/files/rbac.yaml, with the namespace templated), from what
// `kubectl kustomize config/default` prints on stdin. Run it with
// `make chart`; test/install fails when the chart is stale.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/herald-dev/herald/internal/testenv"
)

// rbacKinds are the objects the chart takes as config/default renders them.
var rbacKinds = map[string]bool{"ServiceAccount": true, "Role": true, "ClusterRole": true, "RoleBinding": true, "ClusterRoleBinding": true}

// installNamespace is config/default's namespace, the chart's release namespace.
const installNamespace = "herald-system"

func main() {
	if err := run(os.Stdin, "charts/herald"); err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, chart string) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	crds := filepath.Join(chart, "crds")
	if err := os.RemoveAll(crds); err != nil {
		return err
	}
	if err := os.MkdirAll(crds, 0o755); err != nil {
		return err
	}
	objs, err := testenv.Objects(data)
	if err != nil {
		return err
	}
	var rbac bytes.Buffer
	for _, u := range objs {
		out, err := yaml.Marshal(u.Object)
		if err != nil {
			return err
		}
		switch kind := u.GetKind(); {
		case kind == "CustomResourceDefinition":
			if err := os.WriteFile(filepath.Join(crds, u.GetName()+".yaml"), out, 0o644); err != nil {
				return err
			}
		case rbacKinds[kind]:
			rbac.WriteString("---\n")
			rbac.Write(templateNamespace(out))
		}
	}
	if err := os.MkdirAll(filepath.Join(chart, "files"), 0o755); err != nil {
		return err
	}
	header := "# Written by make chart from config/default; do not edit.\n"
	return os.WriteFile(filepath.Join(chart, "files", "rbac.yaml"), append([]byte(header), rbac.Bytes()...), 0o644)
}

// templateNamespace makes every reference to the install's namespace the
// release's: metadata.namespace and subjects' namespace.
func templateNamespace(y []byte) []byte {
	return []byte(strings.ReplaceAll(string(y), "namespace: "+installNamespace+"\n", "namespace: {{ .Release.Namespace }}\n"))
}
