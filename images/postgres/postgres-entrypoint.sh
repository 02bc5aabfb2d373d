#!/bin/bash
# Initialises the data directory on first start (user and database from POSTGRES_USER/POSTGRES_DB,
# password from POSTGRES_PASSWORD_FILE), then runs PostgreSQL as the postgres user, receiving
# signals itself (tini is PID 1; setpriv replaces this shell, no su in between).
set -euo pipefail

log() { echo "postgres-entrypoint: $*" >&2; }

if [ "$(id -u)" = 0 ]; then
  install -d -o postgres -g postgres -m 0700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA" 2>/dev/null || true
  install -d -o postgres -g postgres -m 2775 /run/postgresql
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    [ -r "$POSTGRES_PASSWORD_FILE" ] || { log "POSTGRES_PASSWORD_FILE=$POSTGRES_PASSWORD_FILE cannot be read"; exit 2; }
    # The server user gets a private copy: the mounted secret may be readable by root only.
    install -o postgres -g postgres -m 0400 "$POSTGRES_PASSWORD_FILE" /run/postgresql/.password
    export POSTGRES_PASSWORD_FILE=/run/postgresql/.password
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
    log "first start needs POSTGRES_PASSWORD_FILE (a file holding the password of $POSTGRES_USER)"
    exit 2
  fi
  if [ "$(wc -l <"$POSTGRES_PASSWORD_FILE")" -gt 1 ]; then
    log "POSTGRES_PASSWORD_FILE must hold one line"
    exit 2
  fi
  log "initialising $PGDATA"
  # Niced: beside RabbitMQ in the All-in-One, the broker is the slower start and should get the CPU.
  nice -n 10 initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
    -D "$PGDATA" >/dev/null
  echo "include '/etc/cosmo/postgresql.conf'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  # Single-user mode: no server to start, wait for and stop (a tenth of a second instead of seconds).
  # One statement per line; the password travels on stdin, never on a command line or in the environment.
  {
    printf 'CREATE ROLE %s LOGIN PASSWORD %s\n' "\"$POSTGRES_USER\"" "'$(sed "s/'/''/g" "$POSTGRES_PASSWORD_FILE")'"
    printf 'CREATE DATABASE %s OWNER %s\n' "\"$POSTGRES_DB\"" "\"$POSTGRES_USER\""
  } | nice -n 10 postgres --single -D "$PGDATA" -c log_statement=none postgres >/dev/null
  log "initialised: role $POSTGRES_USER, database $POSTGRES_DB"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
