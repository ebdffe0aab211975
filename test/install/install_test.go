// Package install checks Herald's two install artefacts against each other
// and against a real API server: the kustomize bundle (config/default,
// dist/install.yaml) and the Helm chart (charts/herald) render the same
// objects, and the API server accepts every one of them.
package install

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/testenv"
)

const namespace = "herald-system"

func decode(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Objects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func kustomized(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.Install()
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// helmTemplate is `helm template herald charts/herald -n herald-system
// --include-crds` with vals, through Helm's own library.
func helmTemplate(t *testing.T, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	manifest, err := testenv.HelmTemplate(namespace, vals)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, manifest)
}

var generatedSuffix = regexp.MustCompile(`^(herald-config)-[a-z0-9]{10}$`)

// normalized takes out what the two tools name differently by design: the
// ConfigMap's hash suffix (kustomize) and the config checksum (Helm), both
// of which roll the pods when the public URL changes.
func normalized(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, u := range objs {
		u = u.DeepCopy()
		u.SetName(generatedSuffix.ReplaceAllString(u.GetName(), "$1"))
		if u.GetKind() == "Deployment" {
			unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "annotations")
			containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
			for _, c := range containers {
				for _, e := range c.(map[string]any)["env"].([]any) {
					if ref, ok, _ := unstructured.NestedMap(e.(map[string]any), "valueFrom", "configMapKeyRef"); ok {
						ref["name"] = generatedSuffix.ReplaceAllString(ref["name"].(string), "$1")
						_ = unstructured.SetNestedMap(e.(map[string]any), ref, "valueFrom", "configMapKeyRef")
					}
				}
			}
			_ = unstructured.SetNestedSlice(u.Object, containers, "spec", "template", "spec", "containers")
		}
		out[u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName()] = u
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestChartRendersTheBundle compares the chart with its default values
// (and the Namespace object) to config/default, object by object.
func TestChartRendersTheBundle(t *testing.T) {
	want := normalized(kustomized(t))
	got := normalized(helmTemplate(t, map[string]any{"createNamespace": true}))
	if !reflect.DeepEqual(keys(got), keys(want)) {
		t.Fatalf("the chart renders\n  %s\nconfig/default renders\n  %s", strings.Join(keys(got), "\n  "), strings.Join(keys(want), "\n  "))
	}
	for _, k := range keys(want) {
		if !reflect.DeepEqual(got[k].Object, want[k].Object) {
			g, _ := yaml.Marshal(got[k].Object)
			w, _ := yaml.Marshal(want[k].Object)
			t.Errorf("%s differs (run make chart if the CRDs or RBAC changed)\nchart:\n%s\nconfig/default:\n%s", k, g, w)
		}
	}
	t.Logf("the chart and config/default render the same %d objects", len(want))
}

// TestChartValues checks that each value reaches the manifest.
func TestChartValues(t *testing.T) {
	objs := normalized(helmTemplate(t, map[string]any{
		"publicURL": "https://herald.acme.example", "replicas": 3, "allowedOrigins": []any{"https://app.acme.example"},
		"trustedProxies": []any{"10.42.0.0/16"}, "egressAllow": []any{"10.43.7.0/24"},
		"image":          map[string]any{"repository": "registry.acme.example/herald", "tag": "v1.2.3", "pullPolicy": "Always"},
		"oidc":           map[string]any{"issuer": "https://idp.acme.example", "clientID": "herald", "clientSecretName": "herald-oidc"},
		"serviceMonitor": map[string]any{"enabled": true},
	}))
	dep := objs["Deployment "+namespace+"/herald-controller-manager"]
	if dep == nil {
		t.Fatalf("no Deployment among %v", keys(objs))
	}
	if r := fmt.Sprint(dep.Object["spec"].(map[string]any)["replicas"]); r != "3" {
		t.Errorf("replicas %s, want 3", r)
	}
	c := dep.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	if c["image"] != "registry.acme.example/herald:v1.2.3" || c["imagePullPolicy"] != "Always" {
		t.Errorf("image %v, pull policy %v", c["image"], c["imagePullPolicy"])
	}
	args := fmt.Sprint(c["args"])
	for _, want := range []string{"--allowed-origins=https://app.acme.example", "--trusted-proxies=10.42.0.0/16", "--egress-allow=10.43.7.0/24",
		"--oidc-issuer=https://idp.acme.example", "--oidc-client-id=herald", "--oidc-client-secret=herald-oidc"} {
		if !strings.Contains(args, want) {
			t.Errorf("args %s lack %s", args, want)
		}
	}
	if cm := objs["ConfigMap "+namespace+"/herald-config"]; cm == nil || cm.Object["data"].(map[string]any)["publicURL"] != "https://herald.acme.example" {
		t.Errorf("the ConfigMap does not carry the public URL: %v", cm)
	}
	if objs["ServiceMonitor "+namespace+"/herald"] == nil {
		t.Errorf("no ServiceMonitor among %v", keys(objs))
	}
	if objs["Namespace /"+namespace] != nil {
		t.Errorf("the Namespace is rendered without createNamespace")
	}
}

// TestServerSideDryRun hands every object of both renderings to a real API
// server with dryRun=All: schemas, defaults and validation all apply.
func TestServerSideDryRun(t *testing.T) {
	assets, err := controlplane.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Dry-run objects are not stored, so their namespace must exist.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	for name, objs := range map[string][]*unstructured.Unstructured{
		"config/default": kustomized(t),
		"charts/herald":  helmTemplate(t, map[string]any{"serviceMonitor": map[string]any{"enabled": false}}),
	} {
		accepted := 0
		for _, u := range objs {
			if u.GetKind() == "Namespace" {
				continue
			}
			if err := c.Create(ctx, u, client.DryRunAll); err != nil {
				t.Errorf("%s: the API server refuses %s %s: %v", name, u.GetKind(), u.GetName(), err)
				continue
			}
			accepted++
		}
		t.Logf("%s: the API server accepts all %d objects (dry run)", name, accepted)
	}
}
