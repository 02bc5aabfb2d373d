/**
 * The worker's end of `ctx`: a Unix socket in the operation's private folder, owned by the
 * operation's own uid (mode 0600), so only that operation's processes can call it. One JSON line
 * in (`{"args": [...]}`), one JSON line out (`{"value": ...}` or `{"error": "..."}`); `handle`
 * answers the command.
 */
import { chmod, chown } from 'node:fs/promises';
import net from 'node:net';

export type CtxHandler = (args: string[]) => Promise<unknown>;

export interface CtxServer {
  path: string;
  close(): Promise<void>;
}

/**
 * Bounds on what one operation's script may hold in the manager through ctx: a script opening
 * hundreds of connections with a megabyte each would otherwise grow the manager until it is killed
 * for memory. Beyond them a connection is refused or closed; `ctx` then fails in the script.
 */
export const CTX_LIMITS = {
  /** Connections open at once (a `ctx` call holds one while it runs). */
  connections: 16,
  /** One request line. */
  requestBytes: 1024 * 1024,
  /** A connection that sends no complete request for this long is closed. */
  idleMs: 30_000,
} as const;

export async function startCtxServer(
  socketPath: string,
  owner: { uid: number; gid: number } | undefined,
  handle: CtxHandler,
): Promise<CtxServer> {
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.setTimeout(CTX_LIMITS.idleMs, () => socket.destroy());
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (Buffer.byteLength(buffer) > CTX_LIMITS.requestBytes) {
        buffer = '';
        socket.end(`${JSON.stringify({ error: 'request larger than 1 MB' })}\n`);
        socket.pause();
        return;
      }
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      const line = buffer.slice(0, end);
      buffer = '';
      socket.pause(); // one request per connection: nothing more is read
      socket.setTimeout(0);
      let args: string[];
      try {
        const request = JSON.parse(line) as { args?: unknown };
        if (!Array.isArray(request.args) || request.args.some((a) => typeof a !== 'string')) {
          throw new Error('args must be a list of strings');
        }
        args = request.args as string[];
      } catch (error) {
        socket.end(`${JSON.stringify({ error: `bad request: ${(error as Error).message}` })}\n`);
        return;
      }
      handle(args).then(
        (value) => socket.end(`${JSON.stringify({ value: value ?? null })}\n`),
        (error: Error) => socket.end(`${JSON.stringify({ error: error.message })}\n`),
      );
    });
  });
  server.maxConnections = CTX_LIMITS.connections;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  if (owner) await chown(socketPath, owner.uid, owner.gid);
  return {
    path: socketPath,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
