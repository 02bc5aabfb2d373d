import { describe, expect, it } from 'vitest';
import { isConnectionError } from './db.ts';

describe('isConnectionError', () => {
  it('takes a lost or silent primary for one: resets, shutdowns, read-only, timeouts', () => {
    for (const error of [
      { code: 'ECONNREFUSED' },
      { code: 'ENOTFOUND' },
      { code: '57P01' }, // admin shutdown
      { code: '25006' }, // a demoted primary refuses the write
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'), // a host that died mid-query answers nothing
    ]) {
      expect(isConnectionError(error), JSON.stringify(error) || String(error)).toBe(true);
    }
  });

  it('leaves what the query itself got wrong to the caller', () => {
    for (const error of [{ code: '23505' }, { code: '42P01' }, new Error('syntax error at or near "x"')]) {
      expect(isConnectionError(error)).toBe(false);
    }
  });
});
