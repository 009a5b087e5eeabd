#!/bin/sh
# First start: initdb as the postgres user, the official image's variables honoured; then run postgres.
set -eu
user="${POSTGRES_USER:-postgres}"
auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA"
  pwfile=$(mktemp) && printf '%s\n' "${POSTGRES_PASSWORD:-}" > "$pwfile" && chown postgres "$pwfile"
  if [ -n "${POSTGRES_PASSWORD:-}" ]; then pw="--pwfile=$pwfile"; else pw=""; fi
  su postgres -c "initdb -D '$PGDATA' -U '$user' $pw -A '$auth' -E UTF8 --no-sync" >/dev/null
  rm -f "$pwfile"
  echo "host all all 0.0.0.0/0 $auth" >> "$PGDATA/pg_hba.conf"
  if [ -n "${POSTGRES_DB:-}" ] && [ "$POSTGRES_DB" != "postgres" ]; then
    su postgres -c "postgres --single -D '$PGDATA' -j postgres" <<SQL >/dev/null
CREATE DATABASE "$POSTGRES_DB" OWNER "$user";
SQL
  fi
fi
exec su postgres -c "exec postgres -D '$PGDATA' -c listen_addresses='*' -c fsync=off $*"
