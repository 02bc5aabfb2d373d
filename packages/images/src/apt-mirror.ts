/**
 * The Debian mirror this machine's apt already uses. Cosmo never names a package host itself:
 * debootstrap fetches from wherever the machine's own apt configuration points.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Debian archive URIs found in deb822 `.sources` files and one-line `.list` files, in file order. */
export function parseAptSources(text: string): string[] {
  const uris: string[] = [];
  for (const line of text.split('\n')) {
    const deb822 = /^\s*URIs:\s*(.+)$/i.exec(line);
    const oneLine = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)/.exec(line);
    const found = deb822 ? deb822[1]!.trim().split(/\s+/) : oneLine ? [oneLine[1]!] : [];
    uris.push(...found);
  }
  // The main archive (…/debian), not debian-security or third-party repositories.
  return uris.filter((uri) => /\/debian\/?$/.test(uri)).map((uri) => uri.replace(/\/$/, ''));
}

export async function aptMirror(etc = '/etc/apt'): Promise<string> {
  const files = [path.join(etc, 'sources.list')];
  try {
    const dir = path.join(etc, 'sources.list.d');
    for (const name of (await readdir(dir)).sort()) {
      if (name.endsWith('.sources') || name.endsWith('.list')) files.push(path.join(dir, name));
    }
  } catch {
    // no sources.list.d: only sources.list counts
  }
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      continue;
    }
    const [first] = parseAptSources(text);
    if (first) return first;
  }
  throw new Error(
    `no Debian mirror found in ${etc}/sources.list or ${etc}/sources.list.d; add one to apt first`,
  );
}
