import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { aptMirror, parseAptSources } from './apt-mirror.ts';

describe('apt mirror', () => {
  it('reads deb822 and one-line sources, main archive only', () => {
    const deb822 =
      'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n\nURIs: http://mirror.example/debian-security\n';
    expect(parseAptSources(deb822)).toEqual(['http://mirror.example/debian']);
    expect(
      parseAptSources('deb [arch=amd64] http://m.example/debian trixie main\n# deb http://x/debian'),
    ).toEqual(['http://m.example/debian']);
    expect(parseAptSources('deb https://third.example/apt stable main')).toEqual([]);
  });

  it('finds the first mirror across sources files, or says where it looked', async () => {
    const etc = await mkdtemp(path.join(os.tmpdir(), 'cosmo-apt-'));
    try {
      await expect(aptMirror(etc)).rejects.toThrow(`no Debian mirror found in ${etc}/sources.list`);
      await mkdir(path.join(etc, 'sources.list.d'));
      await writeFile(
        path.join(etc, 'sources.list.d', 'a.list'),
        'deb https://third.example/apt stable main\n',
      );
      await writeFile(
        path.join(etc, 'sources.list.d', 'debian.sources'),
        'URIs: http://local.example/debian\n',
      );
      expect(await aptMirror(etc)).toBe('http://local.example/debian');
    } finally {
      await rm(etc, { recursive: true, force: true });
    }
  });
});
