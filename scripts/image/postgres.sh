#!/usr/bin/env bash
# The PostgreSQL image for deploy/compose.yaml without a registry (docs/operations.md §15.2): Debian
# bookworm's postgresql-15 (mmdebstrap --variant=minbase), imported with `podman import` as
# TONGBAN_POSTGRES_IMAGE (localhost/tongban-postgres:15-bookworm). Its entrypoint
# (postgres-entrypoint.sh) honours POSTGRES_USER, POSTGRES_PASSWORD and POSTGRES_DB as the official
# image does, PGDATA=/var/lib/postgresql/data (a volume), runs as user postgres, and has pg_isready
# on PATH for the healthcheck (socket in PGHOST=/tmp). Cached: an existing image is kept unless
# --rebuild. Run as root.
# Usage: postgres.sh [--rebuild]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/image/debian.sh
. "$here/debian.sh"

debian_rebuild=0
[ "${1:-}" = "--rebuild" ] && debian_rebuild=1 && shift

pgbin=/usr/lib/postgresql/15/bin
debian_changes=(
  --change "ENV PATH=$pgbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change 'ENV PGDATA=/var/lib/postgresql/data'
  --change 'ENV PGHOST=/tmp'
  --change 'USER postgres'
  --change 'WORKDIR /var/lib/postgresql'
  --change 'EXPOSE 5432'
  # Fast shutdown (as the official image): SIGINT aborts open transactions and stops cleanly.
  --change 'STOPSIGNAL SIGINT'
  --change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]'
  --change 'CMD ["postgres"]'
)
debian_check=(sh -c 'postgres --version && pg_isready --version && initdb --version')

# The package's own cluster (15/main, made by its postinst) is not used: PGDATA is a volume that the
# entrypoint initialises. A new named volume takes the owner and mode of the image's directory.
# JIT compilation is left out (LLVM and Z3, 130 of 376 MB; the entrypoint sets jit = off): the
# gateway's short OLTP queries never reach jit_above_cost, and without its provider PostgreSQL runs
# every query interpreted (pg_jit_available() = false), as documented.
debian_image "$TONGBAN_POSTGRES_IMAGE" --variant=minbase --include=postgresql-15 \
  --customize-hook='rm -rf "$1"/var/lib/postgresql/15 "$1"/etc/postgresql/15' \
  --customize-hook='rm -f "$1"/usr/lib/postgresql/15/lib/llvmjit*.so "$1"/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1 "$1"/usr/lib/x86_64-linux-gnu/libz3.so.4' \
  --customize-hook='rm -rf "$1"/usr/lib/postgresql/15/lib/bitcode' \
  --customize-hook='chroot "$1" install -d -o postgres -g postgres -m 0700 /var/lib/postgresql/data' \
  --customize-hook="copy-in $here/postgres-entrypoint.sh /usr/local/bin"
