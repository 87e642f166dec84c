#!/bin/sh
# Entrypoint of localhost/tongban-postgres (scripts/image/postgres.sh): the subset of the official
# postgres image's contract that deploy/compose.yaml uses. On an empty PGDATA: initdb with superuser
# POSTGRES_USER (password POSTGRES_PASSWORD, required), database POSTGRES_DB (default: the user),
# password (scram-sha-256) for every TCP connection, trust only on the local socket; then postgres.
# Runs as the image's user postgres. Arguments other than postgres options run as a command.
set -eu
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ] && [ "$1" != postgres ]; then exec "$@"; fi
[ "${1:-}" = postgres ] && shift

PGDATA=${PGDATA:-/var/lib/postgresql/data}
export PGDATA
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
# Names go into SQL and initdb unquoted: plain lower-case identifiers only.
for v in POSTGRES_USER POSTGRES_DB; do
  eval "val=\$$v"
  case "$val" in
    '' | [!a-z_]* | *[!a-z0-9_]*)
      echo "postgres-entrypoint: $v must be a lower-case identifier ([a-z_][a-z0-9_]*)" >&2
      exit 64
      ;;
  esac
done

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is not set (required to initialise an empty database)" >&2
    exit 64
  fi
  pwfile=$(mktemp)
  trap 'rm -f "$pwfile"' EXIT
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$pwfile" --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  trap - EXIT
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  printf "listen_addresses = '*'\njit = off\n" >>"$PGDATA/postgresql.conf"
  if [ "$POSTGRES_DB" != postgres ]; then
    echo "CREATE DATABASE $POSTGRES_DB OWNER $POSTGRES_USER;" | postgres --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "postgres-entrypoint: initialised $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
fi
# The socket goes to PGHOST (/tmp, the upstream default; the image sets PGHOST so that pg_isready and
# psql in the container find it): Debian's /run/postgresql is not in the image (mmdebstrap empties /run).
exec postgres -c unix_socket_directories="${PGHOST:-/tmp}" "$@"
