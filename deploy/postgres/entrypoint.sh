#!/usr/bin/env bash
# Entrypoint of crowdpass-postgres: initialise an empty PGDATA as the official image does
# (POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB), then run the command. Runs as postgres.
set -euo pipefail

if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
  user=${POSTGRES_USER:-postgres}
  db=${POSTGRES_DB:-$user}
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" --encoding=UTF8 \
    --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  # Other containers reach it over the compose network: password auth from any address.
  printf 'host all all 0.0.0.0/0 scram-sha-256\nhost all all ::/0 scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    pg_ctl --pgdata="$PGDATA" --options="-c listen_addresses=''" --wait --silent start
    psql --username="$user" --dbname=postgres --quiet --set=ON_ERROR_STOP=1 \
      --command="CREATE DATABASE \"$db\" OWNER \"$user\""
    pg_ctl --pgdata="$PGDATA" --mode=fast --wait --silent stop
  fi
  echo "crowdpass-postgres: initialised $PGDATA (user $user, database $db)"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -c listen_addresses='*' "$@"
fi
exec "$@"
