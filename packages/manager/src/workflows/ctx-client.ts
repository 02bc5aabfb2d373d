/**
 * `ctx`, as a script sees it: `ctx logger info "text"`, `ctx node properties port`,
 * `ctx instance runtime-properties url http://…`, `ctx target instance id`, … Sends its arguments to
 * the worker over the socket in CTX_SOCKET_URL and prints the answer (text as is, anything else as
 * JSON); exits 1 with the worker's message on an error. Bundled on its own into the image's
 * /opt/cosmo/bin/ctx.
 */
import net from 'node:net';

const url = process.env.CTX_SOCKET_URL ?? '';
const socketPath = url.startsWith('unix://') ? url.slice('unix://'.length) : '';
if (!socketPath) {
  process.stderr.write('ctx: CTX_SOCKET_URL is not set: ctx works inside an operation only\n');
  process.exit(1);
}

const socket = net.createConnection(socketPath);
let answer = '';
socket.setEncoding('utf8');
socket.on('connect', () => socket.write(`${JSON.stringify({ args: process.argv.slice(2) })}\n`));
socket.on('data', (chunk: string) => {
  answer += chunk;
});
socket.on('error', (error) => {
  process.stderr.write(`ctx: cannot reach the worker: ${error.message}\n`);
  process.exit(1);
});
socket.on('end', () => {
  let reply: { value?: unknown; error?: string };
  try {
    reply = JSON.parse(answer) as { value?: unknown; error?: string };
  } catch {
    process.stderr.write('ctx: the worker answered something other than JSON\n');
    process.exit(1);
  }
  if (reply.error !== undefined) {
    process.stderr.write(`ctx: ${reply.error}\n`);
    process.exit(1);
  }
  const value = reply.value;
  if (value === null || value === undefined) return;
  process.stdout.write(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value)}\n`);
});
