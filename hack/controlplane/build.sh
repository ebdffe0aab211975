#!/usr/bin/env bash
# Builds kube-apiserver, etcd and kubectl from the modules pinned beside this
# script into a cache folder keyed by their versions, and prints that folder.
# Tests and the embedded control plane of `make run` use these binaries;
# nothing is downloaded but Go modules.
#
# `build.sh node` builds, the same way, what a real single-node cluster adds
# (kubelet, kube-proxy, kube-scheduler, kube-controller-manager, pinned in
# hack/cluster/node) into a folder of its own, and prints that.
#
#   HERALD_CONTROLPLANE_DIR  use this folder instead of the versioned cache folder
#   XDG_CACHE_HOME           cache root (default ~/.cache)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version_of() { awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$1/go.mod"; }
kube_version=$(version_of "$here/kube-apiserver" k8s.io/kubernetes)
etcd_version=$(version_of "$here/etcd" go.etcd.io/etcd/server/v3)
[ -n "$kube_version" ] && [ -n "$etcd_version" ] || { echo "build.sh: cannot read the pinned versions from $here/*/go.mod" >&2; exit 1; }

cache=${XDG_CACHE_HOME:-$HOME/.cache}/herald/k8s
case "${1:-}" in
  "")
    dir=${HERALD_CONTROLPLANE_DIR:-$cache/kube-apiserver-${kube_version}_etcd-${etcd_version}}
    binaries=(etcd kube-apiserver kubectl) ;;
  node)
    node_module="$here/../cluster/node"
    node_version=$(version_of "$node_module" k8s.io/kubernetes)
    [ "$node_version" = "$kube_version" ] || { echo "build.sh: hack/cluster/node pins $node_version, the control plane $kube_version" >&2; exit 1; }
    dir=$cache/node-${kube_version}
    binaries=(kubelet kube-proxy kube-scheduler kube-controller-manager) ;;
  *) echo "usage: build.sh [node]" >&2; exit 2 ;;
esac
complete() { for b in "${binaries[@]}"; do [ -x "$dir/$b" ] || return 1; done; }
if complete; then
  echo "$dir"
  exit 0
fi

start=$SECONDS
mkdir -p "$dir"
chmod 755 "$dir"
# One build at a time per cache folder; a second caller waits and then reuses it.
exec 9>"$dir.lock"
flock 9
if complete; then
  echo "$dir"
  exit 0
fi

# A long, silent compile still says it is alive.
( while sleep 30; do echo "   ... still building ($((SECONDS - start)) s)" >&2; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null; rm -rf "$dir"/.*.tmp "$dir/.tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
minor=${kube_version#v1.}; minor=${minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done

# build NAME MODULE-DIR PACKAGE LDFLAGS NOTE: each binary is built under a
# temporary name and renamed, so the folder never holds a half-written one.
build() {
  [ -x "$dir/$1" ] && return 0
  echo ">> building $1 ($5) into $dir" >&2
  (cd "$here/$2" && go build -trimpath -ldflags "$4" -o "$dir/.$1.tmp" "$3")
  mv "$dir/.$1.tmp" "$dir/$1"
}
if [ "${1:-}" = node ]; then
  # One go build for all four: they share most of their packages.
  echo ">> building ${binaries[*]} ($kube_version, about 7 minutes on 2 cores, once per version) into $dir" >&2
  mkdir -p "$dir/.tmp"
  (cd "$node_module" && go build -trimpath -ldflags "$k8s_ldflags" -o "$dir/.tmp/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-controller-manager)
  for b in "${binaries[@]}"; do mv "$dir/.tmp/$b" "$dir/$b"; done
  rmdir "$dir/.tmp"
  echo ">> node binaries ready in $((SECONDS - start)) s: $dir" >&2
  echo "$dir"
  exit 0
fi
build etcd etcd . "-s -w" "$etcd_version, about 1 minute on 2 cores"
build kube-apiserver kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$k8s_ldflags" "$kube_version, about 6 minutes on 2 cores, once per version"
build kubectl kube-apiserver k8s.io/kubernetes/cmd/kubectl "$k8s_ldflags" "$kube_version, about 2 minutes on 2 cores"

echo ">> control plane ready in $((SECONDS - start)) s: $dir" >&2
echo "$dir"
