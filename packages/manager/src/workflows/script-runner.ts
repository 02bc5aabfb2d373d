/**
 * Runs one operation's script: in a fresh working folder, as a user of its own (uid/gid
 * base + n, n free while it runs), with a clean environment (the operation's inputs, PATH, HOME and
 * CTX_SOCKET_URL; nothing of the manager's), in its own process group, with a timeout. Its output
 * comes back line by line. Why this keeps the manager's secrets from scripts: the manager's files
 * (/run/cosmo, mode 0400) and /proc/<manager>/environ belong to the manager's uid, the script runs
 * as another, and the database and broker take no login without those passwords.
 *
 * The manager holds setuid/setgid/chown/kill as ambient capabilities (to start scripts as other users),
 * and a child that only changes uid keeps its ambient set across execve: a script spawned with Node's
 * `uid` option would start with those capabilities and could make itself root. So every script (and
 * the clean-up run as its user) starts through `setpriv`, which takes the uid and then empties the
 * inheritable and ambient sets and sets no_new_privs: what it executes has no capability at all, and
 * no setuid binary can give it one.
 */
import { spawn } from 'node:child_process';
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { type CtxHandler, startCtxServer } from './ctx-server.ts';

export interface ScriptRun {
  /** The script's path in the blueprint (its file name is kept). */
  name: string;
  content: Buffer;
  env: Record<string, string>;
  timeoutSeconds: number;
  /** Folder for the operations' private folders. */
  baseDir: string;
  /** 0: run as the manager's own user. */
  uidBase: number;
  ctx: CtxHandler;
  onLine(line: string, stream: 'stdout' | 'stderr'): void;
}

export interface ScriptResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Ended by kill() (force-cancel or kill of the execution). */
  killed: boolean;
  /** The last lines of output, for the error of a failed operation. */
  lastLines: string[];
}

export interface RunningScript {
  done: Promise<ScriptResult>;
  /** Ends the script's whole process group at once. */
  kill(): void;
}

const SLOTS = 256;
const used = new Set<number>();
const LINE_MAX = 4096;
const KEEP_LINES = 10;

function takeSlot(): number {
  for (let n = 0; n < SLOTS; n++) {
    if (!used.has(n)) {
      used.add(n);
      return n;
    }
  }
  throw new Error(`more than ${SLOTS} operations at once on this manager`);
}

type Owner = { uid: number; gid: number };

/** The command line that runs `cmd` as `owner` with no capabilities (or as is, without an owner). */
export function asOwner(owner: Owner | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!owner) return [cmd, args];
  return [
    'setpriv',
    [
      `--reuid=${owner.uid}`,
      `--regid=${owner.gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--ambient-caps=-all',
      '--no-new-privs',
      '--',
      cmd,
      ...args,
    ],
  ];
}

/**
 * What one script may use, whatever it runs (set as soft and hard limits, so it cannot raise them):
 * processes of its uid (a fork bomb stops there; the kernel counts them per uid on the whole host),
 * open files, the size of a file it writes, address space (a memory hog fails its allocation instead
 * of growing towards the container's memory limit), and CPU seconds per process. 2 GB of address
 * space is what Node (the `ctx` command) needs to start; bash and Python use far less.
 */
export const SCRIPT_LIMITS = {
  processes: 256,
  openFiles: 1024,
  fileSizeMb: 512,
  addressSpaceMb: 2048,
} as const;

/** How to start a script: by its shebang; without one, python3 for .py and bash for anything else. */
function command(file: string, content: Buffer): [string, string[]] {
  if (content.subarray(0, 2).toString() === '#!') return [file, []];
  return file.endsWith('.py') ? ['python3', [file]] : ['bash', [file]];
}

/**
 * `cmd` under the script limits, CPU seconds as its timeout, and umask 077: what it writes is its own
 * (scripts of other operations share /tmp).
 */
function limited(timeoutSeconds: number, [cmd, args]: [string, string[]]): [string, string[]] {
  const l = SCRIPT_LIMITS;
  const limits = `-u ${l.processes} -n ${l.openFiles} -f ${l.fileSizeMb * 1024} -v ${l.addressSpaceMb * 1024} -t ${timeoutSeconds + 5}`;
  return ['bash', ['-c', `umask 077 && ulimit -S -H ${limits} && exec "$@"`, 'script', cmd, ...args]];
}

export async function runScript(run: ScriptRun): Promise<RunningScript> {
  await mkdir(run.baseDir, { recursive: true, mode: 0o711 });
  const slot = run.uidBase > 0 ? takeSlot() : undefined;
  const owner: Owner | undefined =
    slot === undefined ? undefined : { uid: run.uidBase + slot, gid: run.uidBase + slot };
  const opDir = await mkdtemp(path.join(run.baseDir, 'op-'));
  // Searchable, not listable: the script's user reaches its own folder and socket in it.
  await chmod(opDir, 0o711);
  const work = path.join(opDir, 'work');
  const file = path.join(work, path.basename(run.name));
  let ctx: Awaited<ReturnType<typeof startCtxServer>> | undefined;
  const cleanUp = async () => {
    await ctx?.close();
    // The working folder belongs to the script's user: remove it as that user.
    if (owner) {
      await new Promise((r) =>
        spawn(...asOwner(owner, 'rm', ['-rf', work]), { stdio: 'ignore' })
          .on('close', r)
          .on('error', r),
      );
    }
    await rm(opDir, { recursive: true, force: true }).catch(() => {});
    if (slot !== undefined) used.delete(slot);
  };
  try {
    await mkdir(work, { mode: 0o700 });
    await writeFile(file, run.content, { mode: 0o700 });
    if (owner) {
      // Once the folder is the script user's, the manager can only pass through it (0710, group the
      // manager's: the child enters it before it takes the script's uid): mode and file first.
      await chmod(work, 0o710);
      await chown(file, owner.uid, owner.gid);
      await chown(work, owner.uid, process.getgid?.() ?? owner.gid);
    }
    ctx = await startCtxServer(path.join(opDir, 'ctx.sock'), owner, run.ctx);
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const [cmd, args] = asOwner(owner, ...limited(run.timeoutSeconds, command(file, run.content)));
  const child = spawn(cmd, args, {
    cwd: work,
    env: { ...run.env, HOME: work, CTX_SOCKET_URL: `unix://${ctx.path}` },
    detached: true, // its own process group: kill() and the timeout end everything it started
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lastLines: string[] = [];
  const lines = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') =>
    new Promise<void>((resolve) => {
      if (!stream) return resolve();
      const reader = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
      reader.on('line', (line) => {
        const text = line.length > LINE_MAX ? `${line.slice(0, LINE_MAX)}…` : line;
        lastLines.push(text);
        if (lastLines.length > KEEP_LINES) lastLines.shift();
        run.onLine(text, name);
      });
      reader.on('close', () => resolve());
    });
  const output = Promise.all([lines(child.stdout, 'stdout'), lines(child.stderr, 'stderr')]);

  let timedOut = false;
  let killed = false;
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 3_000).unref();
  }, run.timeoutSeconds * 1000);

  const done = new Promise<ScriptResult>((resolve) => {
    let finished = false;
    const finish = async (exitCode: number | null, signal: string | null, problem?: string) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      killGroup('SIGKILL'); // whatever it left running in the background
      await output;
      await cleanUp();
      if (problem) lastLines.push(problem);
      resolve({ exitCode, signal, timedOut, killed, lastLines });
    };
    child.on('error', (error) => {
      // Never started (no interpreter, no permission): there will be no close.
      if (child.pid === undefined)
        void finish(127, null, `cannot start ${path.basename(run.name)}: ${error.message}`);
    });
    child.on('close', (exitCode, signal) => void finish(exitCode, signal));
  });
  return {
    done,
    kill: () => {
      killed = true;
      killGroup('SIGKILL');
    },
  };
}
