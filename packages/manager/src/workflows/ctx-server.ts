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

const MAX_REQUEST = 1024 * 1024;

export async function startCtxServer(
  socketPath: string,
  owner: { uid: number; gid: number } | undefined,
  handle: CtxHandler,
): Promise<CtxServer> {
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST) {
        socket.end(`${JSON.stringify({ error: 'request larger than 1 MB' })}\n`);
        return;
      }
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      const line = buffer.slice(0, end);
      buffer = '';
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
