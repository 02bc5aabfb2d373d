/**
 * Secret values never reach events or outputs in clear: every value a get_secret produced for an
 * operation or an output is replaced by REDACTED wherever it appears in what is recorded or shown (a
 * script that echoes its password logs REDACTED). Values shorter than MIN_REDACTED characters are
 * left alone: replacing every "a" would garble the text and protect nothing such a secret could.
 */
export const REDACTED = '******';
export const MIN_REDACTED = 4;

/** Notes the strings of a value get_secret produced (the value itself, or its leaves). */
export function reveal(value: unknown, into: Set<string>): void {
  if (typeof value === 'string') {
    if (value.length >= MIN_REDACTED) into.add(value);
  } else if (typeof value === 'number' || typeof value === 'boolean') {
    if (String(value).length >= MIN_REDACTED) into.add(String(value));
  } else if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) reveal(item, into);
  }
}

/** `value` with every revealed string replaced, longest first (a secret containing another). */
export function redact<T>(value: T, revealed: ReadonlySet<string>): T {
  if (revealed.size === 0) return value;
  const secrets = [...revealed].sort((a, b) => b.length - a.length);
  const walk = (item: unknown): unknown => {
    if (typeof item === 'string')
      return secrets.reduce((text, secret) => text.replaceAll(secret, REDACTED), item);
    if (Array.isArray(item)) return item.map(walk);
    if (item !== null && typeof item === 'object')
      return Object.fromEntries(Object.entries(item).map(([key, inner]) => [key, walk(inner)]));
    if (typeof item === 'number' || typeof item === 'boolean')
      return revealed.has(String(item)) ? REDACTED : item;
    return item;
  };
  return walk(value) as T;
}
