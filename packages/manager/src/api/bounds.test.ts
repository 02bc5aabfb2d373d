import { gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import tarStream from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_LIMITS, archiveFiles } from '../blueprints/archive.ts';
import { BLUEPRINT_LIMITS, parseBlueprint } from '../blueprints/blueprint.ts';
import { evaluate } from '../blueprints/functions.ts';
import { checkBounds } from './bounds.ts';
import { ApiError } from './errors.ts';
import { includeFields } from './listing.ts';

function caught(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

async function rejected(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected an ApiError');
}

async function tarOf(files: [string, Buffer][]): Promise<Buffer> {
  const pack = tarStream.pack();
  for (const [name, data] of files) pack.entry({ name }, data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('bounds on a decoded value', () => {
  it('refuses a value nested 5,000 deep with a 400, without overflowing the stack', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 5_000; i++) deep = { a: deep };
    const error = caught(() => checkBounds(deep, 'inputs', { maxDepth: 32, maxChars: 1_000_000 }));
    expect(error.status).toBe(400);
    expect(error.message).toBe('inputs is nested deeper than 32 levels');
  });

  it('counts an aliased value once per use and stops at the limit (413)', () => {
    const big = 'x'.repeat(100_000);
    const shared = { big };
    const value = Object.fromEntries(Array.from({ length: 99 }, (_, i) => [`k${i}`, shared]));
    const error = caught(() => checkBounds(value, 'the blueprint', { maxDepth: 64, maxChars: 2_000_000 }));
    expect(error.status).toBe(413);
    expect(error.message).toContain('more than 2000000 characters');
  });

  it('lets a value within the limits through', () => {
    expect(() =>
      checkBounds({ a: [1, 'two', { b: null }] }, 'x', { maxDepth: 4, maxChars: 100 }),
    ).not.toThrow();
  });
});

describe('blueprint limits', () => {
  it('refuses a document with more keys than the limit, in block and in one-line flow mappings, quickly', () => {
    const keys = Array.from({ length: BLUEPRINT_LIMITS.maxKeys + 1 }, (_, i) => `  k${i}: v`).join('\n');
    const block = caught(() => parseBlueprint(`tosca_definitions_version: x\ninputs:\n${keys}\n`));
    expect(block.status).toBe(413);
    expect(block.message).toContain(`more than ${BLUEPRINT_LIMITS.maxKeys} keys`);
    // 20,000 keys on one line: no line count sees them, and the parser's own uniqueness check would
    // take seconds (quadratic); counted on the parsed document, refused in well under a second.
    const flow = `{${Array.from({ length: 20_000 }, (_, i) => `k${i}: v`).join(', ')}}`;
    const started = performance.now();
    const error = caught(() => parseBlueprint(`tosca_definitions_version: x\ninputs: ${flow}\n`));
    expect(error.status).toBe(413);
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses a key given twice in one mapping, naming it and its line', () => {
    const error = caught(() =>
      parseBlueprint('tosca_definitions_version: x\nnode_templates:\n  vm: {type: t}\n  vm: {type: u}\n'),
    );
    expect(error.status).toBe(400);
    expect(error.message).toContain("the key 'vm' appears twice in one mapping");
    expect(error.message).toContain('at line 4');
  });

  it('checks references between properties in linear time, however they fan out', () => {
    // Each property refers to the previous one twice: followed naively, 2^40 paths.
    const properties = Array.from({ length: 40 }, (_, i) =>
      i === 0
        ? '      p0: base'
        : `      p${i}: {concat: [{get_property: [SELF, p${i - 1}]}, {get_property: [SELF, p${i - 1}]}]}`,
    ).join('\n');
    const started = performance.now();
    const plan = parseBlueprint(
      `tosca_definitions_version: x\nnode_templates:\n  vm:\n    type: t\n    properties:\n${properties}\n`,
    );
    expect(performance.now() - started).toBeLessThan(1_000);
    // Evaluating it resolves each property once, too (the result itself doubles: 2^10 × "base").
    const values = {
      inputs: {},
      properties: () => plan.nodes.vm!.properties,
      runtime: () => ({}),
      secret: () => '',
    };
    expect(evaluate({ get_property: ['vm', 'p10'] }, {}, values)).toBe('base'.repeat(1024));
  });

  it('refuses a YAML that aliases one large value into a huge document', () => {
    const value = 'y'.repeat(500_000);
    const aliases = Array.from({ length: 20 }, (_, i) => `    c${i}: *big`).join('\n');
    const text = `tosca_definitions_version: x\nnode_templates:\n  vm:\n    type: t\n    properties:\n      a: &big ${value}\n${aliases.replaceAll('    c', '      c')}\n`;
    const error = caught(() => parseBlueprint(text));
    expect(error.status).toBe(413);
  });
});

describe('archive limits', () => {
  it('stops a .tar.gz that expands past the limit (413), decompressing no further than the cap', async () => {
    const zeros = Buffer.alloc(4 * 1024 * 1024);
    const files = Array.from({ length: 14 }, (_, i) => [`bp/f${i}`, zeros] as [string, Buffer]);
    const bomb = gzipSync(await tarOf(files));
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const error = await rejected(archiveFiles(bomb));
    expect(error.status).toBe(413);
    expect(error.message).toContain(String(ARCHIVE_LIMITS.maxExpandedBytes));
  });

  it('refuses more entries than the limit', async () => {
    const files = Array.from(
      { length: ARCHIVE_LIMITS.maxEntries + 1 },
      (_, i) => [`bp/f${i}`, Buffer.from('x')] as [string, Buffer],
    );
    expect((await rejected(archiveFiles(await tarOf(files)))).status).toBe(413);
  });

  it('refuses a zip whose entries claim more than the limit', async () => {
    const entries = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`bp/f${i}`, new Uint8Array(5 * 1024 * 1024)]),
    );
    expect((await rejected(archiveFiles(Buffer.from(zipSync(entries))))).status).toBe(413);
  });

  it('reads an archive within the limits', async () => {
    const files = await archiveFiles(gzipSync(await tarOf([['bp/blueprint.yaml', Buffer.from('a: 1\n')]])));
    expect(files.get('bp/blueprint.yaml')?.toString()).toBe('a: 1\n');
  });
});

describe('_include', () => {
  it.each(['constructor', '__proto__', 'toString'])('refuses %s like any unknown field', (field) => {
    const error = caught(() => includeFields({ id: 'a' }, [field]));
    expect(error.status).toBe(400);
    expect(error.message).toContain(`unknown field '${field}'`);
  });
});
