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

/**
 * The commit measured, `+changes` when the tree had uncommitted changes (such a figure is not the
 * commit's). Results written by an earlier bench of the same session are not a change to the code.
 */
export function revision(): string {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: path.dirname(BENCH_DIR),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  try {
    const commit = git('rev-parse', '--short=12', 'HEAD');
    const changes = git(
      'status',
      '--porcelain',
      '--untracked-files=no',
      '--',
      '.',
      ':!bench/results',
      ':!bench/RESULTS.md',
    );
    return changes ? `${commit}+changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

type Stamped = BenchResult & { when: string; revision?: string; machine: string; previous?: Previous };
/** The run before this one: its revision, date and each row's result, by the row's first cell. */
interface Previous {
  when: string;
  revision: string;
  results: Record<string, string | number>;
}

export async function record(result: BenchResult): Promise<void> {
  const file = path.join(BENCH_DIR, 'results', `${result.name}.json`);
  // The last run's results stay beside the new ones (a change's cost shows in one table).
  const before = await readFile(file, 'utf8').then(
    (text) => JSON.parse(text) as Stamped,
    () => undefined,
  );
  const previous: Previous | undefined = before && {
    when: before.when,
    revision: before.revision ?? 'not recorded',
    results: Object.fromEntries(before.rows.map((row) => [String(row[0]), row[1]!])),
  };
  const stamped: Stamped = {
    ...result,
    when: new Date().toISOString(),
    revision: revision(),
    machine: machine(),
    ...(previous ? { previous } : {}),
  };
  await writeFile(file, `${JSON.stringify(stamped, null, 2)}\n`);
  console.log(await renderResults());
}

/** Rewrites bench/RESULTS.md from every recorded result (bench/results/*.json); returns its text. */
export async function renderResults(): Promise<string> {
  const files = (await readdir(path.join(BENCH_DIR, 'results'))).filter((f) => f.endsWith('.json')).sort();
  const sections = [
    '# Benchmark results',
    '',
    'Written by the scripts in bench/ (`pnpm bench:<name>`); each section is the latest run.',
    '',
  ];
  for (const file of files) {
    const r = JSON.parse(await readFile(path.join(BENCH_DIR, 'results', file), 'utf8')) as Stamped;
    const measured = `revision ${r.revision ?? 'not recorded (measured before revisions were recorded)'}`;
    sections.push(`## ${r.title}`, '', `\`${r.command}\` — ${r.when}, ${measured}, ${r.machine}`, '');
    const previous = r.previous;
    const columns = previous ? [...r.columns, `previous run (revision ${previous.revision})`] : r.columns;
    sections.push(`| ${columns.join(' | ')} |`, `|${columns.map(() => '---').join('|')}|`);
    for (const row of r.rows) {
      const cells = previous ? [...row, previous.results[String(row[0])] ?? '-'] : row;
      sections.push(`| ${cells.join(' | ')} |`);
    }
    sections.push('');
    if (previous) sections.push(`- previous run: ${previous.when}, revision ${previous.revision}`);
    for (const note of r.notes ?? []) sections.push(`- ${note}`);
    if (r.notes?.length) sections.push('');
  }
  const text = sections.join('\n');
  await writeFile(path.join(BENCH_DIR, 'RESULTS.md'), text);
  return text;
}

/** The median of a list of measurements (the mean of the middle two for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
