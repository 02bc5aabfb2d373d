/**
 * Lists in the Cloudify shape: `{items, metadata: {pagination: {offset, size, total}}}`, honouring
 * `_offset`, `_size`, `_sort` (`field` or `-field`, repeatable) and `_include` (comma-separated fields),
 * plus equality filters on the fields a resource allows. Sorting and paging happen in SQL.
 */
import type { Database } from '../storage/db.ts';
import { badParameters } from './errors.ts';

export const MAX_PAGE_SIZE = 1000;

export interface ListSpec<Row, Item> {
  /** FROM clause (a table or a subquery). */
  from: string;
  /** The column a list is scoped by (the tenant; the owner for tokens). */
  scopeColumn?: string;
  /** API field → SQL expression, for the fields that can be sorted and filtered. */
  fields: Record<string, string>;
  filters: readonly string[];
  defaultSort: string;
  /** A unique column ordered last, so that rows equal on the sort keys keep one order across pages. */
  tieBreak?: string;
  toItem: (row: Row) => Item;
  /** Every column of `from`, when some are too large to read for a list that does not include them. */
  columns?: readonly string[];
  /** Those large columns: API field -> column, read only when `_include` is absent or names the field. */
  heavy?: Record<string, string>;
}

export type Query = Record<string, string | string[] | undefined>;

export interface ListResult<Item> {
  items: Partial<Item>[];
  metadata: { pagination: { offset: number; size: number; total: number } };
}

function one(query: Query, name: string): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[value.length - 1] : value;
}

function many(query: Query, name: string): string[] {
  const value = query[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value])
    .flatMap((v) => v.split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

function integer(query: Query, name: string, fallback: number, max: number): number {
  const raw = one(query, name);
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) > max) {
    throw badParameters(`${name} must be an integer from 0 to ${max}, not '${raw}'`);
  }
  return Number(raw);
}

export function pageOf<Item>(
  items: Partial<Item>[],
  offset: number,
  size: number,
  total: number,
): ListResult<Item> {
  return { items, metadata: { pagination: { offset, size, total } } };
}

/** Keeps only the requested fields; unknown ones are an error naming the known ones. */
export function includeFields<Item extends object>(item: Item, include: readonly string[]): Partial<Item> {
  if (include.length === 0) return item;
  const out: Partial<Item> = {};
  for (const field of include) {
    // Own fields only: `constructor`, `__proto__` or `toString` are not fields of an item.
    if (!Object.hasOwn(item, field)) {
      throw badParameters(`_include: unknown field '${field}'; fields are ${Object.keys(item).join(', ')}`);
    }
    (out as Record<string, unknown>)[field] = (item as Record<string, unknown>)[field];
  }
  return out;
}

export async function listResources<Row extends object, Item extends object>(
  db: Database,
  spec: ListSpec<Row, Item>,
  tenant: string | undefined,
  query: Query,
): Promise<ListResult<Item>> {
  const offset = integer(query, '_offset', 0, Number.MAX_SAFE_INTEGER);
  const size = integer(query, '_size', MAX_PAGE_SIZE, MAX_PAGE_SIZE);
  const include = many(query, '_include');
  // Names every object answers to (`constructor`, `__proto__`, `toString`) are no item's field, even
  // when the page is empty and no item can be asked.
  const inherited = include.find((field) => field in Object.prototype);
  if (inherited) throw badParameters(`_include: unknown field '${inherited}'`);

  const where: string[] = [];
  const values: unknown[] = [];
  if (tenant !== undefined && spec.scopeColumn) {
    values.push(tenant);
    where.push(`${spec.scopeColumn} = $${values.length}`);
  }
  for (const filter of spec.filters) {
    const wanted = many(query, filter);
    if (wanted.length === 0) continue;
    values.push(wanted);
    where.push(`${spec.fields[filter]}::text = ANY($${values.length})`);
  }

  const order = (many(query, '_sort').length > 0 ? many(query, '_sort') : [spec.defaultSort]).map((key) => {
    const descending = key.startsWith('-');
    const field = key.replace(/^[-+]/, '');
    // Own keys only: `constructor` or `__proto__` is not a field (and must not reach the SQL).
    const column = Object.hasOwn(spec.fields, field) ? spec.fields[field] : undefined;
    if (!column) {
      throw badParameters(
        `_sort: cannot sort by '${field}'; sortable fields are ${Object.keys(spec.fields).join(', ')}`,
      );
    }
    return `${column} ${descending ? 'DESC' : 'ASC'}`;
  });
  if (spec.tieBreak) order.push(`${spec.tieBreak} ASC`);

  values.push(size, offset);
  // A heavy column is read only when the list includes its field (or includes everything).
  const skipped = Object.entries(spec.heavy ?? {})
    .filter(([field]) => include.length > 0 && !include.includes(field))
    .map(([, column]) => column);
  const columns =
    skipped.length > 0 && spec.columns
      ? spec.columns.map((column) => (skipped.includes(column) ? `NULL AS ${column}` : column)).join(', ')
      : '*';
  const sql =
    `SELECT ${columns}, count(*) OVER () AS total_count FROM ${spec.from}` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY ${order.join(', ')} LIMIT $${values.length - 1} OFFSET $${values.length}`;
  const { rows } = await db.read<Row & { total_count: string }>(sql, values);
  let total = rows.length > 0 ? Number(rows[0]!.total_count) : 0;
  if (rows.length === 0 && offset > 0) {
    const counted = await db.read<{ n: string }>(
      `SELECT count(*) AS n FROM ${spec.from}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}`,
      values.slice(0, -2),
    );
    total = Number(counted.rows[0]?.n ?? 0);
  }
  const items = rows.map((row) => includeFields(spec.toItem(row), include));
  return pageOf(items, offset, size, total);
}

/** Fields a single-resource GET keeps, from `_include`. */
export function includeFrom(query: Query): string[] {
  return many(query, '_include');
}
