#!/usr/bin/env bash
# Builds kube-apiserver and etcd from the modules pinned beside this script into a
# cache folder keyed by their versions, and prints that folder. Tests and the
# embedded control plane of `make run` use these binaries; nothing is downloaded
# but Go modules.
#
#   HERALD_CONTROLPLANE_DIR  use this folder instead of the versioned cache folder
#   XDG_CACHE_HOME           cache root (default ~/.cache)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version_of() { awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$here/$1/go.mod"; }
kube_version=$(version_of kube-apiserver k8s.io/kubernetes)
etcd_version=$(version_of etcd go.etcd.io/etcd/server/v3)
[ -n "$kube_version" ] && [ -n "$etcd_version" ] || { echo "build.sh: cannot read the pinned versions from $here/*/go.mod" >&2; exit 1; }

dir=${HERALD_CONTROLPLANE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/herald/k8s/kube-apiserver-${kube_version}_etcd-${etcd_version}}
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  echo "$dir"
  exit 0
fi

start=$SECONDS
mkdir -p "$(dirname "$dir")"
# One build at a time per cache folder; a second caller waits and then reuses it.
exec 9>"$dir.lock"
flock 9
if [ -x "$dir/kube-apiserver" ] && [ -x "$dir/etcd" ]; then
  echo "$dir"
  exit 0
fi

tmp=$(mktemp -d "$dir.tmp.XXXXXX")
chmod 755 "$tmp"
# A long, silent compile still says it is alive.
( while sleep 30; do echo "   ... still building ($((SECONDS - start)) s)" >&2; done ) &
ticker=$!
trap 'kill $ticker 2>/dev/null; rm -rf "$tmp"' EXIT
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
minor=${kube_version#v1.}; minor=${minor%%.*}

echo ">> building etcd $etcd_version (about 1 minute on 2 cores) into $dir" >&2
(cd "$here/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .)

echo ">> building kube-apiserver $kube_version (about 6 minutes on 2 cores, once per version)" >&2
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
done
(cd "$here/kube-apiserver" && go build -trimpath -ldflags "$ldflags" -o "$tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver)

kill $ticker 2>/dev/null
trap - EXIT
rm -rf "$dir"
mv "$tmp" "$dir"
echo ">> control plane ready in $((SECONDS - start)) s: $dir" >&2
echo "$dir"
