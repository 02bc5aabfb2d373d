import { describe, expect, it } from 'vitest';
import { TrustedProxies } from './trusted-proxies.ts';

const quiet = { info() {}, warn() {}, error() {} };

describe('trusted proxies', () => {
  it('believe only the direct peer, and only at an address the load balancer names resolve to', async () => {
    const proxies = new TrustedProxies(['localhost'], quiet);
    await proxies.refresh();
    expect(proxies.trusts('127.0.0.1', 0)).toBe(true);
    expect(proxies.trusts('::ffff:127.0.0.1', 0)).toBe(true);
    // A hop further back, or another peer: the address the connection came from is the caller's.
    expect(proxies.trusts('127.0.0.1', 1)).toBe(false);
    expect(proxies.trusts('10.9.8.7', 0)).toBe(false);
  });

  it('believe nobody when no load balancer is named (the All-in-One)', async () => {
    const proxies = new TrustedProxies([], quiet);
    await proxies.refresh();
    expect(proxies.trusts('127.0.0.1', 0)).toBe(false);
  });
});
