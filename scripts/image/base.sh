#!/usr/bin/env bash
# Base images for the Tongban image without a registry (docs/operations.md, "Building and running
# the image"): Debian bookworm from Debian's own mirror (mmdebstrap), imported with `podman import`,
# plus this machine's Node 20 (Debian bookworm ships Node 18; Node 20 here is NodeSource's build,
# a self-contained binary needing only libc, libstdc++ and libgcc).
#   runtime base  TONGBAN_BASE_IMAGE        libc, libstdc++, busybox (sh, mkdir…), dpkg and node only:
#                                           no apt, no perl, no compiler; user node (1000:1000)
#   build base    TONGBAN_BUILD_BASE_IMAGE  minbase + npm, node headers, python3 make g++ (native modules)
# Node uses its own bundled CA roots, so the runtime base needs no ca-certificates (nor openssl, perl).
# Cached: an existing image is kept unless --rebuild. Run as root (mmdebstrap, rootful podman).
# Usage: base.sh [--rebuild] [runtime|build]   (default: both)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/image/debian.sh
. "$here/debian.sh"

debian_rebuild=0
[ "${1:-}" = "--rebuild" ] && debian_rebuild=1 && shift
which=${1:-all}

node_bin=$(command -v node)
node_version=$("$node_bin" -p 'process.versions.node')
case "$node_version" in 20.*) ;; *) echo "base.sh: need Node 20 on this machine, found $node_version" >&2; exit 1 ;; esac
node_prefix=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
# Node must run on bookworm's libc: what it links against (all from libc6, libstdc++6, libgcc-s1).
echo "base.sh: $node_bin needs $(ldd "$node_bin" | awk '{print $1}' | tr '\n' ' ')"

# Shared by both bases: the gateway user, uid/gid 1000 "node", as in the official node images the
# Dockerfile also accepts; and this machine's node.
debian_slim+=(
  --customize-hook='echo "node:x:1000:1000:Tongban gateway:/home/node:/usr/sbin/nologin" >> "$1/etc/passwd"'
  --customize-hook='echo "node:x:1000:" >> "$1/etc/group"'
  --customize-hook='echo "node:*:19000:0:99999:7:::" >> "$1/etc/shadow"'
  --customize-hook='mkdir -p "$1/home/node" && chown 1000:1000 "$1/home/node"'
  --customize-hook="copy-in $node_bin /usr/bin"
)
debian_changes=(
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
  --change "ENV NODE_VERSION=$node_version"
  --change 'CMD ["node"]'
)
debian_check=(node -e 'console.log("base.sh: the new image runs node " + process.version)')

# Runtime: busybox instead of the Essential set (mmdebstrap's busybox hook installs its applets),
# plus what node links against.
[ "$which" = build ] || debian_image "$TONGBAN_BASE_IMAGE" --variant=custom --include=dpkg,busybox,libc-bin,base-files,base-passwd,debianutils,libstdc++6,libgcc-s1 \
  --hook-dir=/usr/share/mmdebstrap/hooks/busybox

# Build: apt-capable, with the toolchain node-gyp needs, npm and the node headers (nodedir=/usr).
[ "$which" = runtime ] || debian_image "$TONGBAN_BUILD_BASE_IMAGE" --variant=minbase --include=ca-certificates,libstdc++6,python3,make,g++ \
  --customize-hook='mkdir -p "$1/usr/lib/node_modules" "$1/usr/include"' \
  --customize-hook="copy-in $node_prefix/lib/node_modules/npm /usr/lib/node_modules" \
  --customize-hook="copy-in $node_prefix/include/node /usr/include" \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npm-cli.js "$1/usr/bin/npm"' \
  --customize-hook='ln -s ../lib/node_modules/npm/bin/npx-cli.js "$1/usr/bin/npx"'
