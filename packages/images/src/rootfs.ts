/**
 * The root filesystem every Cosmo image starts from: `debian:trixie-slim` when the engine has it or
 * can pull it, otherwise Debian trixie minbase bootstrapped here and imported. No registry is needed.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { aptMirror } from './apt-mirror.ts';
import { inspectImage } from './docker.ts';

export const UPSTREAM_ROOTFS = 'debian:trixie-slim';
/** Local only, never pushed: one per engine, whatever prefix a catalogue tags its images with. */
export const BOOTSTRAPPED_ROOTFS = 'cosmo/rootfs:trixie';
const SUITE = 'trixie';

export interface Rootfs {
  ref: string;
  /** The image id: the parent hash of the base image. */
  id: string;
}

type Log = (line: string) => void;

/** Paths dropped from the bootstrapped tree; images/base keeps them out of later installs (dpkg-nodoc). */
const TRIM = [
  'usr/share/doc/*',
  'usr/share/man/*',
  'usr/share/info/*',
  'usr/share/locale/*',
  'usr/share/lintian/*',
  'var/cache/apt/*.bin',
  'var/cache/apt/archives/*.deb',
  'var/lib/apt/lists/*',
  'var/log/*',
  'var/cache/debconf/*-old',
];

function run(command: string, args: string[], log: Log): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 20) tail.shift();
        log(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) =>
      reject(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new Error(`${command} is not installed: run scripts/setup (it installs debootstrap)`)
          : error,
      ),
    );
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} exited ${code}:\n${tail.join('\n')}`)),
    );
  });
}

/** Waits for a pull or import stream to end; an `error` event inside it is a failure too. */
function streamDone(docker: Docker, stream: NodeJS.ReadableStream): Promise<void> {
  return new Promise((resolve, reject) =>
    docker.modem.followProgress(stream, (error: Error | null, events: { error?: string }[]) => {
      const failed = error?.message ?? events.find((event) => event.error)?.error;
      failed ? reject(new Error(failed)) : resolve();
    }),
  );
}

async function tryPull(docker: Docker, ref: string, timeoutMs: number): Promise<boolean> {
  try {
    const stream = await docker.pull(ref, { abortSignal: AbortSignal.timeout(timeoutMs) });
    await streamDone(docker, stream);
    return (await inspectImage(docker, ref)) !== undefined;
  } catch {
    return false;
  }
}

/**
 * `docker import` of a directory. GNU tar rather than tar-fs here: a root filesystem holds hard links,
 * which tar-fs would store as copies. Device nodes are left out: the engine provides /dev.
 */
async function importTree(docker: Docker, dir: string, ref: string): Promise<void> {
  const tarProcess = spawn('tar', ['-C', dir, '--numeric-owner', '--exclude=./dev/*', '-cf', '-', '.'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tarError = '';
  tarProcess.stderr.on('data', (chunk: Buffer) => {
    tarError += chunk.toString();
  });
  const tarExit = new Promise<number | null>((resolve) => tarProcess.on('close', resolve));
  const [repo, tag] = ref.split(':');
  const stream = await docker.importImage(tarProcess.stdout, {
    repo,
    tag,
    changes: ['ENV LANG=C.UTF-8', 'CMD ["bash"]'],
  } as object);
  await streamDone(docker, stream).catch((error: Error) => {
    throw new Error(`docker import of ${ref} failed: ${error.message}`);
  });
  const code = await tarExit;
  if (code !== 0) throw new Error(`tar of ${dir} exited ${code}: ${tarError.trim()}`);
}

async function bootstrap(docker: Docker, ref: string, log: Log): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `bootstrapping ${ref} with debootstrap needs root; run as root, or load ${UPSTREAM_ROOTFS} into the engine`,
    );
  }
  const mirror = await aptMirror();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-rootfs-'));
  try {
    log(`debootstrap --variant=minbase ${SUITE} from ${mirror}`);
    // A line per package and phase is noise; debootstrap's other messages (warnings, errors) pass.
    const quiet = (line: string) => {
      if (!/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) /.test(line)) log(line);
    };
    await run(
      'debootstrap',
      ['--variant=minbase', '--include=ca-certificates,tini', SUITE, dir, mirror],
      quiet,
    );
    log('trimming docs, man pages, locales and apt caches');
    await run('sh', ['-c', `cd '${dir}' && rm -rf ${TRIM.join(' ')}`], log);
    log(`importing ${ref}`);
    await importTree(docker, dir, ref);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The root filesystem image already in the engine, if any. */
export async function findRootfs(docker: Docker): Promise<Rootfs | undefined> {
  for (const ref of [UPSTREAM_ROOTFS, BOOTSTRAPPED_ROOTFS]) {
    const found = await inspectImage(docker, ref);
    if (found) return { ref, id: found.Id };
  }
  return undefined;
}

/** The root filesystem image, bootstrapped when neither it nor `debian:trixie-slim` can be had. */
export async function ensureRootfs(docker: Docker, log: Log): Promise<Rootfs> {
  const present = await findRootfs(docker);
  if (present) return present;
  const local = BOOTSTRAPPED_ROOTFS;
  log(`pulling ${UPSTREAM_ROOTFS}`);
  if (await tryPull(docker, UPSTREAM_ROOTFS, 30_000)) {
    const pulled = await inspectImage(docker, UPSTREAM_ROOTFS);
    if (pulled) return { ref: UPSTREAM_ROOTFS, id: pulled.Id };
  }
  log(`${UPSTREAM_ROOTFS} cannot be pulled: bootstrapping ${local}`);
  await bootstrap(docker, local, log);
  const made = await inspectImage(docker, local);
  if (!made) throw new Error(`${local} was imported but the engine does not list it`);
  return { ref: local, id: made.Id };
}
