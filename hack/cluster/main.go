// Command cluster brings up the real single-node cluster of the
// end-to-end test for a person to try Herald in (make cluster), with
// Herald's image imported as local/herald:dev, and removes it again
// (make cluster-down).
//
//	go run ./hack/cluster up     start it, leave it running, print how to use it
//	go run ./hack/cluster down   stop it and remove everything it made
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/herald-dev/herald/internal/cluster"
	"github.com/herald-dev/herald/internal/controlplane"
)

func main() {
	if len(os.Args) != 2 || (os.Args[1] != "up" && os.Args[1] != "down") {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/cluster up|down")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run(what string) error {
	if what == "down" {
		return cluster.DownAt(cluster.DefaultDir, os.Stdout)
	}
	cp, err := controlplane.AssetsDir()
	if err != nil {
		return err
	}
	node, err := cluster.NodeBinaries()
	if err != nil {
		return err
	}
	c, err := cluster.Up(context.Background(), cluster.Options{Dir: cluster.DefaultDir, ControlPlane: cp, Node: node, Detached: true, Log: os.Stdout})
	if err != nil {
		return err
	}
	herald := filepath.Join(c.Dir, "bin", "herald")
	if err := cluster.BuildStatic(herald, "."); err != nil {
		return err
	}
	if err := c.ImportImage(context.Background(), cluster.HeraldImage, herald); err != nil {
		return err
	}
	kubectl, err := c.WriteKubectl()
	if err != nil {
		return err
	}
	fmt.Printf(`
The cluster runs in network namespace herald-cluster. Its kubectl:

  %[1]s get nodes
  %[1]s apply --server-side -k config/testdata/cluster   # Herald as config/default installs it, image %[2]s

make cluster-down stops it and removes everything it made.
`, kubectl, cluster.HeraldImage)
	return nil
}
