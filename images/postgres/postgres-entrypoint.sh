#!/bin/bash
# Initialises the data directory on first start (user and database from POSTGRES_USER/POSTGRES_DB,
# password from POSTGRES_PASSWORD_FILE); at every later start sets that role's password from the file
# again, so the file always wins (rotation: change the file, restart; data made with another
# password is taken over, not refused). Then runs PostgreSQL as the postgres user, receiving signals
# itself (tini is PID 1; setpriv replaces this shell, no su in between).
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

# Single-user mode runs SQL with no server to start, wait for and stop (about 40 ms). One statement
# per line; the password travels on stdin, never on a command line or in the environment.
# A failed statement is never echoed (log_min_error_statement), and its output is redacted anyway:
# the statements carry passwords.
redact() { sed -E "s/(PASSWORD[[:space:]]+)'([^']|'')*'?/\\1'(hidden)'/Ig"; }
single_user() {
  local out
  out=$(nice -n 10 postgres --single -D "$PGDATA" -c log_statement=none -c log_min_error_statement=panic \
    -c log_min_messages=warning postgres 2>&1 >/dev/null) || {
    log "single-user mode failed: $(redact <<<"$out")"
    exit 1
  }
  if grep -qE '^(ERROR|FATAL|PANIC):|ERROR: ' <<<"$out"; then
    log "single-user mode: $(redact <<<"$out")"
    exit 1
  fi
}
password_literal() { printf "'%s'" "$(sed "s/'/''/g" "$POSTGRES_PASSWORD_FILE")"; }

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -s "$POSTGRES_PASSWORD_FILE" ] &&
  [ "$(wc -l <"$POSTGRES_PASSWORD_FILE")" -gt 1 ]; then
  log "POSTGRES_PASSWORD_FILE must hold one line"
  exit 2
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD_FILE:-}" ] || [ ! -s "$POSTGRES_PASSWORD_FILE" ]; then
    log "first start needs POSTGRES_PASSWORD_FILE (a file holding the password of $POSTGRES_USER)"
    exit 2
  fi
  log "initialising $PGDATA"
  # Niced: beside RabbitMQ in the All-in-One, the broker is the slower start and should get the CPU.
  nice -n 10 initdb --username=postgres --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 \
    -D "$PGDATA" >/dev/null
  echo "include '/etc/cosmo/postgresql.conf'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  {
    printf 'CREATE ROLE %s LOGIN PASSWORD %s\n' "\"$POSTGRES_USER\"" "$(password_literal)"
    printf 'CREATE DATABASE %s OWNER %s\n' "\"$POSTGRES_DB\"" "\"$POSTGRES_USER\""
  } | single_user
  log "initialised: role $POSTGRES_USER, database $POSTGRES_DB"
elif [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ -s "$POSTGRES_PASSWORD_FILE" ]; then
  printf 'ALTER ROLE %s PASSWORD %s\n' "\"$POSTGRES_USER\"" "$(password_literal)" | single_user
  log "role $POSTGRES_USER: password set from POSTGRES_PASSWORD_FILE"
fi

if [ "${1:-}" = postgres ]; then
  shift
  exec postgres -D "$PGDATA" "$@"
fi
exec "$@"
