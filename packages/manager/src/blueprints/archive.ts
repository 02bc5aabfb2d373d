/**
 * Blueprint archives as the Cloudify client uploads them (.tar.gz, .tar or .zip, usually with one
 * top folder): the YAML named by application_file_name is taken out.
 */
import path from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import tarStream from 'tar-stream';
import { tooLarge } from '../api/bounds.ts';
import { ApiError, badParameters, invalidBlueprintArchive } from '../api/errors.ts';

const MAX_ENTRY_BYTES = 5 * 1024 * 1024;
/**
 * An archive expands to at most this much and this many entries: a 1 MB .tar.gz can hold 1 GiB of
 * zeros. Decompression stops at the cap (zlib's maxOutputLength) rather than after the fact.
 */
export const ARCHIVE_LIMITS = { maxExpandedBytes: 50 * 1024 * 1024, maxEntries: 1_000 };

const overLimit = () =>
  tooLarge(
    `the blueprint archive expands to more than ${ARCHIVE_LIMITS.maxExpandedBytes} bytes or ${ARCHIVE_LIMITS.maxEntries} entries (the limits)`,
  );

async function untar(buffer: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tarStream.extract();
  const done = new Promise<void>((resolve, reject) => {
    let entries = 0;
    let total = 0;
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('error', reject);
      if (++entries > ARCHIVE_LIMITS.maxEntries) {
        extract.destroy(overLimit());
        return;
      }
      stream.on('data', (data: unknown) => {
        const chunk = data as Buffer;
        size += chunk.length;
        total += chunk.length;
        if (total > ARCHIVE_LIMITS.maxExpandedBytes) {
          extract.destroy(overLimit());
          return;
        }
        if (header.type === 'file' && size <= MAX_ENTRY_BYTES) chunks.push(chunk);
      });
      stream.on('end', () => {
        if (header.type === 'file' && size <= MAX_ENTRY_BYTES) files.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  Readable.from([buffer]).pipe(extract);
  await done;
  return files;
}

function isTar(buffer: Buffer): boolean {
  return buffer.length > 262 && buffer.subarray(257, 262).toString('latin1') === 'ustar';
}

/** The files of an archive, by path. */
export async function archiveFiles(buffer: Buffer): Promise<Map<string, Buffer>> {
  try {
    if (buffer[0] === 0x1f && buffer[1] === 0x8b) {
      // The tar stream inside: the files plus a 512-byte header per entry, and its end blocks.
      const tar = gunzipSync(buffer, {
        maxOutputLength: ARCHIVE_LIMITS.maxExpandedBytes + (ARCHIVE_LIMITS.maxEntries + 2) * 1024,
      });
      return await untar(tar);
    }
    if (buffer.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004') {
      let count = 0;
      let claimed = 0;
      const entries = unzipSync(new Uint8Array(buffer), {
        filter: (file) => {
          claimed += file.originalSize;
          if (++count > ARCHIVE_LIMITS.maxEntries || claimed > ARCHIVE_LIMITS.maxExpandedBytes)
            throw overLimit();
          return file.originalSize <= MAX_ENTRY_BYTES;
        },
      });
      const files = new Map(Object.entries(entries).map(([name, data]) => [name, Buffer.from(data)]));
      // Sizes in a zip's headers are claims: the inflated data is measured too.
      let actual = 0;
      for (const data of files.values()) actual += data.length;
      if (actual > ARCHIVE_LIMITS.maxExpandedBytes) throw overLimit();
      return files;
    }
    if (isTar(buffer)) return await untar(buffer);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw overLimit();
    throw invalidBlueprintArchive(`the blueprint archive cannot be read: ${(error as Error).message}`);
  }
  throw invalidBlueprintArchive('the blueprint archive is not a .tar.gz, .tar or .zip file');
}

/** A blueprint from an archive: its main YAML and every file, by path relative to that YAML's folder. */
export interface ArchivedBlueprint {
  yaml: string;
  files: Map<string, Buffer>;
}

/** `fileName` inside the archive (at its root or under one top folder), and the files beside it. */
export async function blueprintFromArchive(buffer: Buffer, fileName: string): Promise<ArchivedBlueprint> {
  if (!/^[^/\\]+\.ya?ml$/.test(fileName) || fileName.includes('..')) {
    throw badParameters(
      `application_file_name '${fileName}' must be a .yaml or .yml file name without folders`,
    );
  }
  const files = await archiveFiles(buffer);
  const candidates = [...files.keys()]
    .filter((name) => name === fileName || name.split('/').filter(Boolean).slice(1).join('/') === fileName)
    .sort((a, b) => a.length - b.length);
  const found = candidates[0];
  if (!found) {
    const yamls = [...files.keys()].filter((name) => /\.ya?ml$/.test(name));
    throw invalidBlueprintArchive(
      `the archive holds no ${fileName} at its root or under one top folder (YAML files found: ${yamls.join(', ') || 'none'})`,
    );
  }
  const folder = found.slice(0, found.length - fileName.length);
  const beside = new Map<string, Buffer>();
  for (const [name, data] of files) {
    if (name.startsWith(folder)) beside.set(path.posix.normalize(name.slice(folder.length)), data);
  }
  return { yaml: files.get(found)!.toString('utf8'), files: beside };
}
