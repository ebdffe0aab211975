package config_test

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/testenv"
)

// TestInstallerIsCurrent renders config/default as make build-installer
// does and compares it with the committed dist/install.yaml.
func TestInstallerIsCurrent(t *testing.T) {
	rendered, err := testenv.Kustomize("config/default")
	if err != nil {
		t.Fatal(err)
	}
	root, err := controlplane.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(filepath.Join(root, "dist", "install.yaml"))
	if err != nil {
		t.Fatalf("dist/install.yaml: %v: run make build-installer", err)
	}
	if string(rendered) != string(committed) {
		t.Errorf("dist/install.yaml is stale: run make build-installer")
	}
}

// TestIngressOverlay renders the installer's overlay in testdata (the
// ingress and cert-manager components over config/default) and checks that
// the pieces meet: the Ingress routes the client paths to the Service's
// http port, at the host of the public URL, with the certificate's Secret.
func TestIngressOverlay(t *testing.T) {
	out, err := testenv.Kustomize("config/testdata/with-ingress")
	if err != nil {
		t.Fatal(err)
	}
	list, err := testenv.Objects(out)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]map[string]any{}
	for _, u := range list {
		if u.GetKind() == "ConfigMap" && !strings.HasPrefix(u.GetName(), "herald-config-") {
			continue // the monitoring component's dashboard
		}
		objs[u.GetKind()] = u.Object // one of each kind this test reads
	}
	if objs["PrometheusRule"] == nil {
		t.Errorf("the monitoring component renders no PrometheusRule")
	}
	get := func(o map[string]any, path ...any) any {
		var v any = o
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	publicURL, err := url.Parse(get(objs["ConfigMap"], "data", "publicURL").(string))
	if err != nil {
		t.Fatal(err)
	}
	ing := objs["Ingress"]
	if host := get(ing, "spec", "rules", 0, "host"); host != publicURL.Host {
		t.Errorf("the Ingress serves %v, the public URL is %s", host, publicURL)
	}
	service := get(objs["Service"], "metadata", "name")
	paths := get(ing, "spec", "rules", 0, "http", "paths").([]any)
	for i := range paths {
		backend := get(ing, "spec", "rules", 0, "http", "paths", i, "backend", "service").(map[string]any)
		if backend["name"] != service || get(backend, "port", "name") != "http" {
			t.Errorf("path %v goes to %v, not the Service %v's http port", get(ing, "spec", "rules", 0, "http", "paths", i, "path"), backend, service)
		}
	}
	if len(paths) != 3 {
		t.Errorf("the Ingress routes %d paths, want /mcp, /oauth and /.well-known", len(paths))
	}
	if tls, cert := get(ing, "spec", "tls", 0, "secretName"), get(objs["Certificate"], "spec", "secretName"); tls != cert {
		t.Errorf("the Ingress uses the TLS Secret %v, the Certificate writes %v", tls, cert)
	}
	if dns := get(objs["Certificate"], "spec", "dnsNames", 0); dns != publicURL.Host {
		t.Errorf("the Certificate is for %v, the public URL is %s", dns, publicURL)
	}
}
