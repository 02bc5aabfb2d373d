/**
 * Attacks a blueprint's author can make, as scripts run by a real manager: each uploads a blueprint
 * archive whose one operation is the attack, installs it, and hands back what the script printed
 * (its log events), for the test to assert that the attack failed. Shared by the red-team suite
 * (test/security.test.ts, the All-in-One) and the cluster tests (distributed, compact), so every
 * mode meets the same attacks.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createCa, issueCertificate } from '@cosmo/cli/certificates';
import { expect } from 'vitest';
import type { Client } from './api.ts';
import { uploadArchive } from './blueprints.ts';
import { finishedExecution } from './stack.ts';

const API = '/api/v3.1';

export interface AttackRun {
  execution: { id: string; status: string; error: string };
  /** Every log line the script printed, in order. */
  lines: string[];
  /** Every event of the execution (type and message). */
  events: { type: string; event_type: string | null; message: string }[];
}

/**
 * Uploads a one-node blueprint whose `create` is `script` (its inputs as environment variables),
 * deploys it as `id`, runs install and waits for it to end.
 */
export async function runAttack(
  api: Client,
  id: string,
  script: string,
  inputs: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<AttackRun> {
  const inputNames = Object.keys(inputs);
  const blueprint = [
    'tosca_definitions_version: cloudify_dsl_1_4',
    ...(inputNames.length ? ['inputs:', ...inputNames.map((name) => `  ${name}: {default: ''}`)] : []),
    'node_templates:',
    '  target:',
    '    type: cloudify.nodes.Root',
    '    interfaces:',
    '      cloudify.interfaces.lifecycle:',
    '        create:',
    '          implementation: scripts/attack.sh',
    `          inputs: {${inputNames.map((name) => `${name}: {get_input: ${name}}`).join(', ')}}`,
    '',
  ].join('\n');
  const upload = await uploadArchive(api, id, { 'blueprint.yaml': blueprint, 'scripts/attack.sh': script });
  expect(upload.status, upload.text).toBe(201);
  const created = await api.put(`${API}/deployments/${id}`, { blueprint_id: id, inputs });
  expect(created.status, created.text).toBe(201);
  const started = await api.post(`${API}/executions`, { deployment_id: id, workflow_id: 'install' });
  expect(started.status, started.text).toBe(201);
  const execution = await finishedExecution(api, started.body.id, timeoutMs);
  const { body } = await api.get(`${API}/events?execution_id=${execution.id}&_size=1000`);
  const events = body.items as AttackRun['events'];
  const lines = events.filter((event) => event.type === 'cloudify_log').map((event) => event.message);
  return { execution, lines, events };
}

/**
 * Tries every way a script could gain privilege or read a secret, printing one line per attempt:
 * `CAP <field> <hex>`, `NNP <0|1>`, `ROOT <how> <gained|refused>`, `READ <path>` for each file it
 * could read, and `TRIED <n>`. TARGETS (an input) lists files to try besides those the script itself
 * finds under the platform's secret and data folders (it cannot list folders closed to it).
 */
export const PRIVILEGE_PROBE = `#!/bin/bash
grep -E '^(CapInh|CapPrm|CapEff|CapAmb)' /proc/self/status | while read -r field value; do echo "CAP \${field%:} $value"; done
echo "NNP $(awk '/^NoNewPrivs/ {print $2}' /proc/self/status)"
attempt() { local how=$1; shift; if "$@" </dev/null >/dev/null 2>&1; then echo "ROOT $how gained"; else echo "ROOT $how refused"; fi; }
attempt setpriv setpriv --reuid=0 --regid=0 --clear-groups true
attempt python3 python3 -c 'import os; os.setuid(0)'
attempt su su -c true root
attempt chown chown "$(id -u)" /etc/passwd
manager=
for p in /proc/[0-9]*; do
  if tr '\\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q 'manager.mjs'; then manager=\${p#/proc/}; break; fi
done
echo "MANAGER \${manager:-none}"
tried=0
for f in $(find /run/secrets /run/cosmo /run/cosmo-db /var/lib/cosmo -type f 2>/dev/null) $TARGETS \${manager:+/proc/$manager/environ}; do
  tried=$((tried + 1))
  if head -c 1 "$f" >/dev/null 2>&1; then echo "READ $f"; fi
done
echo "TRIED $tried"
exit 0
`;

/** Asserts the probe's run: no capability, no_new_privs, no way to root, no secret read. */
export function expectNoPrivilege(run: AttackRun, targets: string[]): void {
  expect(run.execution.status, run.execution.error).toBe('terminated');
  const caps = run.lines.filter((line) => line.startsWith('CAP '));
  expect(caps.map((line) => line.split(' ')[1])).toEqual(['CapInh', 'CapPrm', 'CapEff', 'CapAmb']);
  for (const line of caps) expect(line).toMatch(/ 0{16}$/);
  expect(run.lines).toContain('NNP 1');
  const root = run.lines.filter((line) => line.startsWith('ROOT '));
  expect(root).toHaveLength(4);
  for (const line of root) expect(line).toMatch(/ refused$/);
  expect(run.lines.find((line) => line.startsWith('MANAGER '))).toMatch(/^MANAGER \d+$/);
  // Every file named was tried (and the manager's environment); none could be read.
  expect(run.lines.filter((line) => line.startsWith('READ '))).toEqual([]);
  const tried = Number(run.lines.find((line) => line.startsWith('TRIED '))?.split(' ')[1]);
  expect(tried).toBeGreaterThan(targets.length);
}

/** Every file under the platform's secret folders of a container, as root sees them. */
export async function secretFiles(exec: (cmd: string[]) => Promise<string>): Promise<string[]> {
  const out = await exec([
    'sh',
    '-c',
    'find /run/secrets /run/cosmo /run/cosmo-db /var/lib/cosmo/secrets -type f 2>/dev/null || true',
  ]);
  return out.split('\n').filter(Boolean);
}

/**
 * Tries a TCP connection to each of ENDPOINTS (`host:port`, space separated), printing
 * `REACH <host:port> open|closed <time>ms` and, once per host, `RESOLVED <host> yes|no` (Docker's DNS must
 * stay open to scripts). First a control: a listener the script opens on loopback itself must answer
 * (`CONTROL open`), so that "closed" means refused by the platform's rules, not a broken probe.
 */
export const NETWORK_PROBE = `#!/bin/bash
python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
print(s.getsockname()[1], flush=True)
s.settimeout(10)
s.accept()[0].close()
' >port &
for _ in $(seq 1 50); do [ -s port ] && break; sleep 0.1; done
if timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$(cat port)" 2>/dev/null; then echo "CONTROL open"; else echo "CONTROL closed"; fi
declare -A seen
for endpoint in $ENDPOINTS; do
  host=\${endpoint%:*} port=\${endpoint##*:}
  if [ -z "\${seen[$host]:-}" ]; then
    seen[$host]=1
    if getent hosts "$host" >/dev/null; then echo "RESOLVED $host yes"; else echo "RESOLVED $host no"; fi
  fi
  start=$(date +%s%N)
  if timeout 3 bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then answer=open; else answer=closed; fi
  echo "REACH $endpoint $answer $(( ($(date +%s%N) - start) / 1000000 ))ms"
done
exit 0
`;

/** The probe's answer for each endpoint: open or closed. */
function reachOf(lines: string[], endpoints: string[]): Record<string, string> {
  const found = Object.fromEntries(
    lines.filter((line) => line.startsWith('REACH ')).map((line) => line.trim().split(' ').slice(1)),
  );
  return Object.fromEntries(endpoints.map((endpoint) => [endpoint, found[endpoint] ?? 'not tried']));
}

/** Every endpoint with the same answer. */
export const allAre = (endpoints: string[], answer: 'open' | 'closed') =>
  Object.fromEntries(endpoints.map((endpoint) => [endpoint, answer]));

/**
 * Asserts a network probe's run: its own loopback listener answered, every host resolved, and no
 * endpoint of the platform's back ends took a connection.
 */
export function expectNoBackendReach(run: AttackRun, endpoints: string[]): void {
  expect(run.execution.status, run.execution.error).toBe('terminated');
  expect(run.lines).toContain('CONTROL open');
  const hosts = [...new Set(endpoints.map((endpoint) => endpoint.slice(0, endpoint.lastIndexOf(':'))))];
  for (const host of hosts) expect(run.lines).toContain(`RESOLVED ${host} yes`);
  expect(reachOf(run.lines, endpoints)).toEqual(allAre(endpoints, 'closed'));
}

/**
 * Which endpoints answer a TCP connection from inside a container as the manager's own user (uid
 * cosmo): the control for expectNoBackendReach, showing that what scripts cannot reach is there.
 */
export async function reachableAsManager(
  exec: (cmd: string[]) => Promise<string>,
  endpoints: string[],
): Promise<Record<string, string>> {
  const loop = `for endpoint in "$@"; do
  if timeout 3 bash -c "exec 3<>/dev/tcp/\${endpoint%:*}/\${endpoint##*:}" 2>/dev/null; then
    echo "REACH $endpoint open"; else echo "REACH $endpoint closed"; fi
done`;
  const out = await exec([
    'setpriv',
    '--reuid=cosmo',
    '--regid=cosmo',
    '--clear-groups',
    'bash',
    '-c',
    loop,
    'probe',
    ...endpoints,
  ]);
  return reachOf(out.split('\n'), endpoints);
}

/** `host:port` for every host and port given. */
export function endpoints(hosts: string[], ports: number[]): string[] {
  return hosts.flatMap((host) => ports.map((port) => `${host}:${port}`));
}

/**
 * What a network neighbour gets from an HTTPS API, as `HTTP <status>` or the error that ended the
 * attempt: speaking plain HTTP to its port; reaching it under a name its certificate does not carry;
 * and an impostor on loopback holding a certificate for the same name from another CA, reached by a
 * client that trusts the platform's CA (as every client of ours does). Each should fail.
 */
export async function tlsAttacks(httpsUrl: string): Promise<{
  plaintext: string;
  wrongName: string;
  impostor: string;
}> {
  const url = new URL(`${httpsUrl}/api/v3.1/ok`);
  const outcome = (options: https.RequestOptions, target: URL | string = url) =>
    new Promise<string>((resolve) => {
      https
        .get(target, { timeout: 5_000, ...options }, (response) => {
          response.resume();
          resolve(`HTTP ${response.statusCode}`);
        })
        .on('timeout', function (this: { destroy(): void }) {
          this.destroy();
        })
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  const plaintext = await fetch(url.toString().replace(/^https:/, 'http:')).then(
    (response) => `HTTP ${response.status}`,
    (error: { cause?: { code?: string } }) => error.cause?.code ?? 'failed',
  );
  const wrongName = await outcome({ servername: 'impostor.example' });
  const other = await createCa('An impostor CA');
  const fake = await issueCertificate(other, {
    commonName: url.hostname,
    dnsNames: ['localhost'],
    ipAddresses: ['127.0.0.1'],
  });
  const server = https.createServer({ cert: fake.cert, key: fake.key }, (_q, r) => r.end('"OK"'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const impostor = await outcome({}, `https://localhost:${port}/api/v3.1/ok`);
    return { plaintext, wrongName, impostor };
  } finally {
    server.close();
  }
}

/** Every TLS attack failed: no HTTP answer to plaintext, and neither certificate accepted. */
export function expectTlsRefused(outcomes: Awaited<ReturnType<typeof tlsAttacks>>): void {
  expect(outcomes.plaintext).not.toMatch(/^HTTP/);
  expect(outcomes.wrongName).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  expect(outcomes.impostor).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
}

/**
 * What a neighbour on a cluster's network gets from its database and queue members, each attempt's
 * output followed by `[exit N]`: PostgreSQL in clear; PostgreSQL and AMQPS reached under a name the
 * members' certificate does not carry (the member's address), or checked against another CA; AMQP in
 * clear. `control` is the same connection done right (the platform's CA, the member's name): it gets
 * past TLS, so the refusals are TLS's and not a network's. `db` runs psql in a database member's
 * container, `queue` openssl in a container that has it (a manager's).
 */
export async function memberTlsAttacks(
  db: (cmd: string[]) => Promise<string>,
  queue: (cmd: string[]) => Promise<string>,
  members: { db: string; queue: string },
): Promise<Record<'db' | 'queue', Record<'plaintext' | 'wrongName' | 'otherCa' | 'control', string>>> {
  const other = (await createCa('An impostor CA')).cert;
  // $1 the other CA's certificate, written where the attempt can name it; then the attempt itself.
  const attempt = (run: (cmd: string[]) => Promise<string>, command: string) =>
    run([
      'bash',
      '-c',
      `printf '%s' "$1" >/tmp/other-ca.crt; ${command} 2>&1; echo "[exit $?]"`,
      'attack',
      other,
    ]);
  const psql = (conninfo: string) =>
    attempt(db, `PGPASSWORD= psql -w "dbname=cosmo user=cosmo connect_timeout=5 ${conninfo}" -c 'SELECT 1'`);
  const tls = (host: string, ca: string, name: string) =>
    attempt(
      queue,
      `timeout 5 openssl s_client -connect ${host}:5671 -CAfile ${ca} -verify_hostname ${name} -verify_return_error </dev/null`,
    );
  const [dbAddress] = (await attempt(db, `getent hosts ${members.db} | cut -d' ' -f1`)).split('\n');
  const [queueAddress] = (await attempt(queue, `getent hosts ${members.queue} | cut -d' ' -f1`)).split('\n');
  const ca = '/run/secrets/ca.crt';
  return {
    db: {
      plaintext: await psql(`host=${members.db} sslmode=disable`),
      wrongName: await psql(`host=${dbAddress} sslmode=verify-full sslrootcert=${ca}`),
      otherCa: await psql(`host=${members.db} sslmode=verify-full sslrootcert=/tmp/other-ca.crt`),
      control: await psql(`host=${members.db} sslmode=verify-full sslrootcert=${ca}`),
    },
    queue: {
      plaintext: await attempt(queue, `timeout 5 bash -c '</dev/tcp/${members.queue}/5672'`),
      wrongName: await tls(queueAddress!, ca, queueAddress!),
      otherCa: await tls(members.queue, '/tmp/other-ca.crt', members.queue),
      control: await tls(members.queue, ca, members.queue),
    },
  };
}

/** Every member refused what memberTlsAttacks tried, and took the right connection. */
export function expectMemberTlsRefused(outcomes: Awaited<ReturnType<typeof memberTlsAttacks>>): void {
  const { db, queue } = outcomes;
  expect(db.plaintext).toMatch(/no pg_hba\.conf entry .* no encryption/);
  expect(db.wrongName).toMatch(/does not match host name/);
  expect(db.otherCa).toMatch(/certificate verify failed/);
  // Past TLS, the server asks for the password the attempt does not have.
  expect(db.control).toMatch(/no password supplied|password authentication failed/);
  expect(queue.plaintext).not.toContain('[exit 0]');
  expect(queue.wrongName).toMatch(/hostname mismatch/);
  expect(queue.wrongName).not.toContain('[exit 0]');
  expect(queue.otherCa).toMatch(/unable to get local issuer certificate/);
  expect(queue.otherCa).not.toContain('[exit 0]');
  expect(queue.control).toContain('Verify return code: 0 (ok)');
}

/** Python, in a database member's container: GET /version from etcd as each kind of client would. */
const ETCD_PROBE = `
import ssl, sys, urllib.request
host, other_cert, other_key, own = sys.argv[1:5]
def attempt(scheme, cert=None):
    context = None
    if scheme == "https":
        # The server's certificate is not what is tested here: who etcd lets in is.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if cert:
            context.load_cert_chain(*cert)
    try:
        with urllib.request.urlopen(f"{scheme}://{host}:2379/version", timeout=5, context=context) as answer:
            return f"HTTP {answer.status} {answer.read(200)!r}"
    except Exception as error:
        return f"refused: {error!r}"
print("plaintext", attempt("http"))
print("noCertificate", attempt("https"))
print("otherCa", attempt("https", (other_cert, other_key)))
print("control", attempt("https", (own + "/cert.pem", own + "/key.pem")))
`;

/**
 * What a client on the network gets from a member's etcd: in clear; over TLS with no certificate; with
 * a certificate of the platform's CA (the members' own, which etcd must not take); and, as a control,
 * with etcd's own certificate, which etcd answers. Run in a database member's container.
 */
export async function etcdAttacks(
  db: (cmd: string[]) => Promise<string>,
  member: string,
): Promise<Record<'plaintext' | 'noCertificate' | 'otherCa' | 'control', string>> {
  const out = await db([
    'python3',
    '-c',
    ETCD_PROBE,
    member,
    '/run/secrets/member.crt',
    '/run/secrets/member.key',
    '/run/cosmo-etcd',
  ]);
  const lines = new Map(
    out
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf(' ')), line.slice(line.indexOf(' ') + 1)] as const),
  );
  const get = (key: string) => lines.get(key) ?? `(no answer: ${out})`;
  return {
    plaintext: get('plaintext'),
    noCertificate: get('noCertificate'),
    otherCa: get('otherCa'),
    control: get('control'),
  };
}

/** etcd answered only the client holding its own CA's certificate. */
export function expectEtcdRefused(outcomes: Awaited<ReturnType<typeof etcdAttacks>>): void {
  expect(outcomes.plaintext).not.toContain('etcdserver');
  expect(outcomes.noCertificate).toMatch(/^refused/);
  expect(outcomes.otherCa).toMatch(/^refused/);
  expect(outcomes.control).toMatch(/^HTTP 200 .*etcdserver/);
}

/**
 * What a client on the network gets from a member's Patroni REST API (GET /cluster): in clear; over
 * TLS with no client certificate; with a certificate another CA signed; and, as a control, with a
 * manager's certificate (the platform's CA), which Patroni answers. Each attempt's output, run with
 * openssl in a container holding a manager's certificate (a manager's, or a compact node's).
 */
export async function patroniAttacks(
  run: (cmd: string[]) => Promise<string>,
  member: string,
): Promise<Record<'plaintext' | 'noCertificate' | 'otherCa' | 'control', string>> {
  const other = await createCa('An impostor CA');
  const stranger = await issueCertificate(other, {
    commonName: 'manager',
    dnsNames: ['manager'],
    ipAddresses: [],
  });
  const request = `printf 'GET /cluster HTTP/1.0\\r\\nHost: ${member}\\r\\n\\r\\n'`;
  const tls = (client: string) =>
    `${request} | timeout 5 openssl s_client -quiet -connect ${member}:8008 -CAfile /run/secrets/ca.crt -verify_hostname ${member} -verify_return_error ${client}`;
  const attempt = (command: string) =>
    run([
      'bash',
      '-c',
      `printf '%s' "$1" >/tmp/other.crt; printf '%s' "$2" >/tmp/other.key; { ${command}; } 2>&1; echo "[exit $?]"`,
      'attack',
      stranger.cert,
      stranger.key,
    ]);
  return {
    plaintext: await attempt(`exec 3<>/dev/tcp/${member}/8008; ${request} >&3; timeout 5 cat <&3`),
    noCertificate: await attempt(tls('')),
    otherCa: await attempt(tls('-cert /tmp/other.crt -key /tmp/other.key')),
    control: await attempt(tls('-cert /run/secrets/manager.crt -key /run/secrets/manager.key')),
  };
}

/** Patroni answered only the client holding a certificate of the platform's CA. */
export function expectPatroniRefused(outcomes: Awaited<ReturnType<typeof patroniAttacks>>): void {
  expect(outcomes.plaintext).not.toContain('"members"');
  expect(outcomes.noCertificate).not.toContain('"members"');
  expect(outcomes.otherCa).not.toContain('"members"');
  expect(outcomes.control).toContain('"members"');
}

/**
 * What an Erlang node holding the cluster's cookie gets from a queue member (`net_adm:ping`, `pong`
 * when let in): speaking distribution in clear; over TLS with a certificate another CA signed; and,
 * as a control, over TLS with the members' own settings. Run in another queue member's container
 * (which has Erlang and the cookie): the cookie alone must not be enough.
 */
export async function erlangDistAttacks(
  run: (cmd: string[]) => Promise<string>,
  member: string,
): Promise<Record<'plaintext' | 'otherCa' | 'control', string>> {
  const other = await createCa('An impostor CA');
  const stranger = await issueCertificate(other, { commonName: member, dnsNames: [member], ipAddresses: [] });
  const ping = (args: string) =>
    run([
      'bash',
      '-c',
      `printf '%s' "$1" >/tmp/other.crt; printf '%s' "$2" >/tmp/other.key; printf '%s' "$3" >/tmp/other-ca.crt
cat >/tmp/other-dist.conf <<'TERMS'
[{server, [{certfile, "/tmp/other.crt"}, {keyfile, "/tmp/other.key"}, {cacertfile, "/tmp/other-ca.crt"}]},
 {client, [{certfile, "/tmp/other.crt"}, {keyfile, "/tmp/other.key"}, {cacertfile, "/tmp/other-ca.crt"}, {verify, verify_none}]}].
TERMS
timeout 60 erl -sname "probe$RANDOM" -setcookie "$(cat /run/rabbitmq-root/.erlang.cookie)" -noshell ${args} \\
  -eval 'io:format("~p~n", [net_adm:ping(list_to_atom("rabbit@${member}"))]), halt().' 2>&1; echo "[exit $?]"`,
      'attack',
      stranger.cert,
      stranger.key,
      other.cert,
    ]);
  return {
    plaintext: await ping(''),
    otherCa: await ping('-proto_dist inet_tls -ssl_dist_optfile /tmp/other-dist.conf'),
    control: await ping('-proto_dist inet_tls -ssl_dist_optfile /run/rabbitmq-root/tls/dist.conf'),
  };
}

/** The queue member let in only the node showing a certificate of the platform's CA. */
export function expectErlangDistRefused(outcomes: Awaited<ReturnType<typeof erlangDistAttacks>>): void {
  expect(outcomes.plaintext).toContain('pang');
  expect(outcomes.otherCa).toContain('pang');
  expect(outcomes.control).toContain('pong');
}

/**
 * Logging in to a database member's PostgreSQL as its superuser (`postgres`) or replication user
 * (`replicator`) over the network, run as the postgres user in another database member's container:
 * with the right password only; with it and a certificate another CA signed; and, as a control, with
 * it and the members' certificate. Each attempt's psql output and exit status.
 */
export async function privilegedLoginAttacks(
  db: (cmd: string[]) => Promise<string>,
  member: string,
): Promise<Record<'superuserPasswordOnly' | 'replicationPasswordOnly' | 'otherCa' | 'control', string>> {
  const other = await createCa('An impostor CA');
  const stranger = await issueCertificate(other, { commonName: member, dnsNames: [member], ipAddresses: [] });
  const secrets = '/run/cosmo-db';
  const attempt = (user: string, password: string, client: string, sql = 'SELECT 1') =>
    db([
      'bash',
      '-c',
      `umask 077; printf '%s' "$1" >/tmp/other.crt; printf '%s' "$2" >/tmp/other.key; chown postgres /tmp/other.crt /tmp/other.key
export PGPASSWORD="$(cat ${secrets}/${password})"
setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql psql -w "host=${member} dbname=postgres user=${user} connect_timeout=5 sslmode=verify-full sslrootcert=${secrets}/ca.crt ${client}" -Atc '${sql}' 2>&1; echo "[exit $?]"`,
      'attack',
      stranger.cert,
      stranger.key,
    ]);
  return {
    superuserPasswordOnly: await attempt('postgres', 'COSMO_DB_SUPERUSER_PASSWORD', ''),
    // A physical replication connection, as a replica's (it could stream every byte of the database).
    replicationPasswordOnly: await attempt(
      'replicator',
      'COSMO_DB_REPLICATION_PASSWORD',
      'replication=true',
      'IDENTIFY_SYSTEM',
    ),
    otherCa: await attempt(
      'postgres',
      'COSMO_DB_SUPERUSER_PASSWORD',
      'sslcert=/tmp/other.crt sslkey=/tmp/other.key',
    ),
    control: await attempt(
      'postgres',
      'COSMO_DB_SUPERUSER_PASSWORD',
      `sslcert=${secrets}/tls.crt sslkey=${secrets}/tls.key`,
    ),
  };
}

/** The superuser and replication logins needed a certificate of the platform's CA beside the password. */
export function expectPrivilegedLoginsRefused(
  outcomes: Awaited<ReturnType<typeof privilegedLoginAttacks>>,
): void {
  expect(outcomes.superuserPasswordOnly).toMatch(/requires a valid client certificate/);
  expect(outcomes.replicationPasswordOnly).toMatch(/requires a valid client certificate/);
  expect(outcomes.otherCa).not.toContain('[exit 0]');
  expect(outcomes.control).toMatch(/^1\n\[exit 0\]/);
}
