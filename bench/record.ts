/**
 * Records a benchmark: its JSON under bench/results/, then bench/RESULTS.md rewritten from every
 * JSON there, so the table always shows the latest run of each benchmark.
 */
import { execFileSync } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface BenchResult {
  name: string;
  title: string;
  /** How to run it again. */
  command: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
  raw?: unknown;
}

const BENCH_DIR = import.meta.dirname;

export function machine(): string {
  return `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.versions.node}`;
}

/** The commit measured, `+changes` when the tree had uncommitted changes (such a figure is not the commit's). */
export function revision(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: BENCH_DIR,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  try {
    const commit = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${commit}+changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export async function record(result: BenchResult): Promise<void> {
  const stamped = { ...result, when: new Date().toISOString(), revision: revision(), machine: machine() };
  await writeFile(
    path.join(BENCH_DIR, 'results', `${result.name}.json`),
    `${JSON.stringify(stamped, null, 2)}\n`,
  );
  const files = (await readdir(path.join(BENCH_DIR, 'results'))).filter((f) => f.endsWith('.json')).sort();
  const sections = [
    '# Benchmark results',
    '',
    'Written by the scripts in bench/ (`pnpm bench:<name>`); each section is the latest run.',
    '',
  ];
  for (const file of files) {
    const r = JSON.parse(await readFile(path.join(BENCH_DIR, 'results', file), 'utf8')) as BenchResult & {
      when: string;
      revision?: string;
      machine: string;
    };
    const measured = `revision ${r.revision ?? 'not recorded (measured before revisions were recorded)'}`;
    sections.push(`## ${r.title}`, '', `\`${r.command}\` — ${r.when}, ${measured}, ${r.machine}`, '');
    sections.push(`| ${r.columns.join(' | ')} |`, `|${r.columns.map(() => '---').join('|')}|`);
    for (const row of r.rows) sections.push(`| ${row.join(' | ')} |`);
    sections.push('');
    for (const note of r.notes ?? []) sections.push(`- ${note}`);
    if (r.notes?.length) sections.push('');
  }
  await writeFile(path.join(BENCH_DIR, 'RESULTS.md'), sections.join('\n'));
  console.log(sections.join('\n'));
}

/** The median of a list of measurements (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
