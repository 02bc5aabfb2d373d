#!/bin/bash
# Writes the credentials and the Erlang cookie from secret files, then runs RabbitMQ as the
# rabbitmq user (tini is PID 1; setpriv replaces this shell so the server gets the signals).
set -euo pipefail

log() { echo "rabbitmq-entrypoint: $*" >&2; }

if [ "$(id -u)" != 0 ]; then
  log "must start as root to prepare secrets; it drops to the rabbitmq user itself"
  exit 2
fi

# RABBITMQ_DATA_DIR is the node's home: data (mnesia) and the Erlang cookie live there.
data=${RABBITMQ_DATA_DIR:-/var/lib/rabbitmq}
export HOME=$data RABBITMQ_MNESIA_BASE=${RABBITMQ_MNESIA_BASE:-$data/mnesia}
install -d -o rabbitmq -g rabbitmq -m 0750 "$data" /run/rabbitmq
chown rabbitmq:rabbitmq "$data"

if [ -z "${RABBITMQ_PASSWORD_FILE:-}" ] || [ ! -s "$RABBITMQ_PASSWORD_FILE" ]; then
  log "RABBITMQ_PASSWORD_FILE must name a file holding the password of $RABBITMQ_USER"
  exit 2
fi
password=$(cat "$RABBITMQ_PASSWORD_FILE")
# In the config directory of the container, readable by rabbitmq only; never in the image or a volume.
umask 077
{
  echo "default_user = $RABBITMQ_USER"
  echo "default_pass = $password"
  echo "default_user_tags.administrator = true"
  echo "default_permissions.configure = .*"
  echo "default_permissions.read = .*"
  echo "default_permissions.write = .*"
} >/etc/rabbitmq/conf.d/50-credentials.conf
chown rabbitmq:rabbitmq /etc/rabbitmq/conf.d/50-credentials.conf
unset password

cookie=$data/.erlang.cookie
if [ -n "${RABBITMQ_ERLANG_COOKIE_FILE:-}" ]; then
  install -o rabbitmq -g rabbitmq -m 0400 "$RABBITMQ_ERLANG_COOKIE_FILE" "$cookie"
elif [ ! -s "$cookie" ]; then
  head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$cookie"
  chown rabbitmq:rabbitmq "$cookie"
  chmod 0400 "$cookie"
fi
# The CLI run as root (rabbitmqctl in a shell) reads root's own copy.
install -m 0400 "$cookie" /root/.erlang.cookie

exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
