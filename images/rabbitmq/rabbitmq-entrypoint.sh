#!/bin/bash
# Writes the credentials, the cluster's peers and the Erlang cookie from secret files, then runs
# RabbitMQ as the rabbitmq user (tini is PID 1; setpriv replaces this shell so the server gets the
# signals). Configuration is written by root into a folder only root can write, each file replaced
# atomically (a new file renamed over the old one), so the rabbitmq user cannot redirect the write.
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
# $1 file name in conf.d (or a path under /etc/rabbitmq); stdin its content. Readable by the
# rabbitmq group, writable by root only.
write_conf() {
  local target=$1 tmp
  [[ $target == /* ]] || target=/etc/rabbitmq/conf.d/$target
  tmp=$(mktemp "$(dirname "$target")/.tmp.XXXXXX")
  cat >"$tmp"
  chown root:rabbitmq "$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$target"
}
chown root:rabbitmq /etc/rabbitmq/conf.d
chmod 0750 /etc/rabbitmq/conf.d

# The user, its vhost and permissions are definitions the node imports at every boot, so the
# password file always wins: a node whose data was made with another password takes this one
# (rotation: change the file, restart every member). default_user would apply only to an empty node.
# The executions queue's delivery limit and dead-letter queue are a policy here, not queue arguments
# (arguments differing from an existing queue's fail its declaration): a message whose workers died
# 10 times goes to cosmo.executions.dead, where a manager fails its execution with the reason.
# (Quorum queues only: the All-in-One's classic queue has no delivery count; the manager's own count
# of interrupted operations bounds it there.)
# The user has no tags: it needs AMQP and its vhost's permissions, not the right to administer the
# broker (users, policies, other vhosts).
# The file holds a salted hash (RabbitMQ's rabbit_password_hashing_sha256: base64 of a 4-byte salt
# followed by SHA-256(salt + password)), never the password.
password=$(cat "$RABBITMQ_PASSWORD_FILE")
salt=$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')
hex_bytes() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
digest=$({ hex_bytes "$salt"; printf '%s' "$password"; } | sha256sum | cut -d' ' -f1)
hash=$({ hex_bytes "$salt"; hex_bytes "$digest"; } | base64 -w0)
unset password
umask 077
# Not in conf.d: RabbitMQ parses every file there as configuration.
write_conf /etc/rabbitmq/cosmo-definitions.json <<JSON
{
  "vhosts": [{"name": "/"}],
  "users": [{"name": "$RABBITMQ_USER", "password_hash": "$hash", "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": []}],
  "permissions": [{"user": "$RABBITMQ_USER", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}],
  "policies": [{"vhost": "/", "name": "cosmo-executions", "pattern": "^cosmo\\\\.executions\$", "apply-to": "queues", "priority": 0,
    "definition": {"delivery-limit": 10, "dead-letter-exchange": "", "dead-letter-routing-key": "cosmo.executions.dead"}}]
}
JSON
write_conf 50-credentials.conf <<CONF
definitions.import_backend = local_filesystem
definitions.local.path = /etc/rabbitmq/cosmo-definitions.json
CONF

# RABBITMQ_MEMORY_HIGH_WATERMARK (e.g. 400MB): flow control at an absolute size, for a container
# with a memory limit; otherwise 40 % of the memory RabbitMQ sees.
if [ -n "${RABBITMQ_MEMORY_HIGH_WATERMARK:-}" ]; then
  if [[ ! $RABBITMQ_MEMORY_HIGH_WATERMARK =~ ^[0-9]+(MB|GB)$ ]]; then
    log "RABBITMQ_MEMORY_HIGH_WATERMARK=$RABBITMQ_MEMORY_HIGH_WATERMARK is not a size such as 400MB or 1GB"
    exit 2
  fi
  echo "vm_memory_high_watermark.absolute = $RABBITMQ_MEMORY_HIGH_WATERMARK" | write_conf 40-memory.conf
else
  echo "vm_memory_high_watermark.relative = 0.4" | write_conf 40-memory.conf
fi

# TLS (certificate and key together): AMQP over TLS on 5671 only, no plaintext listener. Clients
# authenticate by password inside TLS; they check the broker's certificate, the broker asks for none.
# With the CA too (RABBITMQ_TLS_CA_FILE), Erlang distribution (between members, and from the CLI
# tools) runs over TLS as well, each side showing a certificate of that CA and checking the other's:
# the Erlang cookie alone no longer lets a neighbour in.
# RabbitMQ reads its copies as its own user, on root's tmpfs (traversable, not listable) when
# /run/rabbitmq-root is one.
install -d -m 0711 /run/rabbitmq-root
tls=/run/rabbitmq-root/tls
rm -rf "$tls"
if [ -n "${RABBITMQ_TLS_CERT_FILE:-}" ] || [ -n "${RABBITMQ_TLS_KEY_FILE:-}" ] || [ -n "${RABBITMQ_TLS_CA_FILE:-}" ]; then
  for var in RABBITMQ_TLS_CERT_FILE RABBITMQ_TLS_KEY_FILE; do
    [ -n "${!var:-}" ] && [ -s "${!var}" ] || { log "$var must name a non-empty file (TLS needs the certificate and its key)"; exit 2; }
  done
  install -d -o rabbitmq -g rabbitmq -m 0700 "$tls"
  install -o rabbitmq -g rabbitmq -m 0400 "$RABBITMQ_TLS_CERT_FILE" "$tls/cert.pem"
  install -o rabbitmq -g rabbitmq -m 0400 "$RABBITMQ_TLS_KEY_FILE" "$tls/key.pem"
  write_conf 30-tls.conf <<CONF
listeners.tcp = none
listeners.ssl.default = 5671
ssl_options.certfile = $tls/cert.pem
ssl_options.keyfile = $tls/key.pem
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
ssl_options.versions.1 = tlsv1.3
ssl_options.versions.2 = tlsv1.2
CONF
  log "AMQP over TLS only, on 5671"
else
  rm -f /etc/rabbitmq/conf.d/30-tls.conf
fi
if [ -n "${RABBITMQ_TLS_CA_FILE:-}" ]; then
  [ -s "$RABBITMQ_TLS_CA_FILE" ] || { log "RABBITMQ_TLS_CA_FILE=$RABBITMQ_TLS_CA_FILE is not a non-empty file"; exit 2; }
  install -o rabbitmq -g rabbitmq -m 0400 "$RABBITMQ_TLS_CA_FILE" "$tls/ca.pem"
  # Erlang terms. No fail_if_no_peer_cert in the client section: Erlang 26 and later refuse it there.
  options="{cacertfile, \"$tls/ca.pem\"}, {certfile, \"$tls/cert.pem\"}, {keyfile, \"$tls/key.pem\"}, {secure_renegotiate, true}, {verify, verify_peer}"
  write_conf "$tls/dist.conf" <<TERMS
[{server, [$options, {fail_if_no_peer_cert, true}]},
 {client, [$options]}].
TERMS
  chown rabbitmq:rabbitmq "$tls/dist.conf"
  dist="-proto_dist inet_tls -ssl_dist_optfile $tls/dist.conf"
  export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="${RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS:-} $dist"
  # The CLI tools (rabbitmqctl, also run with docker exec) read this file: they must speak TLS too.
  write_conf /etc/rabbitmq/rabbitmq-env.conf <<ENV
CTL_ERL_ARGS="$dist"
ENV
  log "Erlang distribution over TLS only"
else
  # Root's, like the rest of the configuration (the package's copy is the rabbitmq user's to edit).
  echo "# Erlang distribution in clear: no RABBITMQ_TLS_CA_FILE" | write_conf /etc/rabbitmq/rabbitmq-env.conf
fi

# A cluster: RABBITMQ_CLUSTER_PEERS lists every member's host name (this node's too); each node is
# rabbit@<host name>, so the container's host name must be its name on the network.
if [ -n "${RABBITMQ_CLUSTER_PEERS:-}" ]; then
  IFS=, read -r -a peers <<<"$RABBITMQ_CLUSTER_PEERS"
  {
    echo "cluster_formation.peer_discovery_backend = classic_config"
    # Peers may not resolve yet (Swarm lists a task in DNS once it is healthy): keep looking for
    # them for up to 2 minutes rather than boot alone and form a cluster of one.
    echo "cluster_formation.discovery_retry_limit = 120"
    echo "cluster_formation.discovery_retry_interval = 1000"
    i=0
    for peer in "${peers[@]}"; do
      i=$((i + 1))
      echo "cluster_formation.classic_config.nodes.$i = rabbit@$peer"
    done
    # Quorum queues declared before every member joined grow to all of them (checked every 10 s).
    echo "quorum_queue.continuous_membership_reconciliation.enabled = true"
    echo "quorum_queue.continuous_membership_reconciliation.target_group_size = ${#peers[@]}"
    echo "quorum_queue.continuous_membership_reconciliation.interval = 10000"
    echo "quorum_queue.continuous_membership_reconciliation.trigger_interval = 10000"
  } | write_conf 20-cluster.conf
  log "cluster member $RABBITMQ_NODENAME of ${RABBITMQ_CLUSTER_PEERS}"
else
  rm -f /etc/rabbitmq/conf.d/20-cluster.conf
fi

cookie=$data/.erlang.cookie
if [ -n "${RABBITMQ_ERLANG_COOKIE_FILE:-}" ]; then
  install -o rabbitmq -g rabbitmq -m 0400 "$RABBITMQ_ERLANG_COOKIE_FILE" "$cookie"
elif [ ! -s "$cookie" ]; then
  head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32 >"$cookie"
  chown rabbitmq:rabbitmq "$cookie"
  chmod 0400 "$cookie"
fi
# The CLI run as root (rabbitmqctl in a shell) reads root's own copy, kept on a tmpfs when /run is one.
install -m 0400 "$cookie" /run/rabbitmq-root/.erlang.cookie
ln -sfn /run/rabbitmq-root/.erlang.cookie /root/.erlang.cookie

exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$@"
