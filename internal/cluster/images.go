package cluster

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/herald-dev/herald/internal/controlplane"
)

// caBundle is the machine's CA certificates, which an image carries so its
// binary can call HTTPS APIs.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// BuildStatic builds the Go package pkg (relative to the module root) into
// a static binary at out, as the Dockerfile builds Herald's.
func BuildStatic(out, pkg string) error {
	root, err := controlplane.ModuleRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v: %s", pkg, err, b)
	}
	return nil
}

// ImportImage makes an image of one static binary (with the machine's CA
// certificates), running as user 65532 with entrypoint the binary and
// args, and imports it into the node's containerd as ref: no registry is
// involved, so pods use it with imagePullPolicy Never.
func (c *Cluster) ImportImage(ctx context.Context, ref, binary string, args ...string) error {
	layer, err := binaryLayer(binary)
	if err != nil {
		return err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config = v1.Config{Entrypoint: append([]string{"/" + filepath.Base(binary)}, args...), User: "65532:65532", WorkingDir: "/"}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	tag, err := name.NewTag(ref)
	if err != nil {
		return err
	}
	tar := c.path("images", filepath.Base(binary)+"-"+fmt.Sprint(time.Now().UnixNano())+".tar")
	if err := os.MkdirAll(filepath.Dir(tar), 0o755); err != nil {
		return err
	}
	defer os.Remove(tar)
	if err := tarball.WriteToFile(tar, tag, img); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "ctr", "--address", c.containerdSocket(), "-n", "k8s.io", "images", "import", tar)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr images import %s: %v: %s", ref, err, out)
	}
	fmt.Fprintf(c.Log, "   image %s imported\n", ref)
	return nil
}

// binaryLayer is a layer holding the binary at / and the CA bundle.
func binaryLayer(binary string) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(path, src string, mode int64) error {
		data, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: path, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	}
	for _, dir := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "tmp/"} {
		mode := int64(0o755)
		if dir == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: dir, Mode: mode, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	if err := add(filepath.Base(binary), binary, 0o755); err != nil {
		return nil, err
	}
	if err := add("etc/ssl/certs/ca-certificates.crt", caBundle, 0o644); err != nil {
		return nil, fmt.Errorf("the image needs the CA certificates at %s (Debian's ca-certificates): %w", caBundle, err)
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}
