import { describe, expect, it } from 'vitest';
import { REDACTED, redact, reveal } from './redact.ts';

describe('redact', () => {
  it('replaces every revealed value wherever it appears, in strings, lists and maps', () => {
    const revealed = new Set<string>();
    reveal('hunter22', revealed);
    reveal({ user: 'app', password: 'pa55word', port: 54321 }, revealed);
    expect([...revealed].sort()).toEqual(['54321', 'hunter22', 'pa55word']);
    expect(
      redact({ url: 'postgres://app:pa55word@db:54321', list: ['hunter22!', 54321], n: 7 }, revealed),
    ).toEqual({ url: `postgres://app:${REDACTED}@db:${REDACTED}`, list: [`${REDACTED}!`, REDACTED], n: 7 });
  });

  it('replaces a secret that contains another as a whole, and leaves values too short to matter', () => {
    const revealed = new Set<string>();
    reveal('abcd', revealed);
    reveal('abcdefgh', revealed);
    reveal('xy', revealed);
    expect(redact('abcdefgh abcd xy', revealed)).toBe(`${REDACTED} ${REDACTED} xy`);
  });
});
