import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterMembers, findPrimary, type PatroniMember, readableStandby } from './patroni.ts';

/**
 * Patroni's REST API as three members answer it: /primary is 200 on the leader only, /cluster lists
 * the members. Local HTTP servers stand in for Patroni here; the clustered topologies test the real one.
 */
function member(role: 'leader' | 'replica' | 'down'): Promise<Server> {
  const server = createServer((request, response) => {
    if (role === 'down') {
      response.destroy();
      return;
    }
    if (request.url === '/primary') {
      response.writeHead(role === 'leader' ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ role: role === 'leader' ? 'primary' : 'replica', state: 'running' }));
    } else if (request.url === '/cluster') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          members: [
            { name: 'db1', host: 'db1', port: 5432, role: 'leader', state: 'running' },
            { name: 'db2', host: 'db2', port: 5432, role: 'sync_standby', state: 'streaming', lag: 0 },
          ],
        }),
      );
    } else {
      response.writeHead(404).end();
    }
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
let servers: Server[];

beforeAll(async () => {
  servers = await Promise.all([member('down'), member('replica'), member('leader')]);
});
afterAll(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

describe('Patroni discovery', () => {
  it('finds the member that answers 200 to /primary, whatever the others do', async () => {
    const [down, replica, leader] = servers as [Server, Server, Server];
    expect(await findPrimary([url(down), url(replica), url(leader)])).toBe('127.0.0.1');
    expect(await findPrimary([url(down), url(replica)])).toBeUndefined();
    expect(await findPrimary(['http://127.0.0.1:1'])).toBeUndefined();
  });

  it('answers as soon as the primary does, not after a silent member times out', async () => {
    // A member whose host died answers nothing: its request would run to the timeout.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    try {
      const leader = servers[2] as Server;
      const started = Date.now();
      expect(await findPrimary([url(silent), url(leader)], undefined, 5_000)).toBe('127.0.0.1');
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('lists the members from the first Patroni that answers', async () => {
    const [down, replica] = servers as [Server, Server, Server];
    const members = await clusterMembers([url(down), url(replica)]);
    expect(members.map((m) => [m.name, m.role, m.state])).toEqual([
      ['db1', 'leader', 'running'],
      ['db2', 'sync_standby', 'streaming'],
    ]);
  });

  it('fails with the last error when no Patroni answers', async () => {
    await expect(clusterMembers(['http://127.0.0.1:1'])).rejects.toThrow();
    await expect(clusterMembers([])).rejects.toThrow('no Patroni URL configured');
  });
});

describe('readableStandby', () => {
  const at = (name: string, role: string, state: string): PatroniMember => ({
    name,
    host: name,
    port: 5432,
    role,
    state,
  });

  it('prefers the synchronous standby, which has applied every acknowledged commit', () => {
    const members = [
      at('db1', 'leader', 'running'),
      at('db2', 'replica', 'streaming'),
      at('db3', 'sync_standby', 'streaming'),
    ];
    expect(readableStandby(members, 'db1')).toBe('db3');
  });

  it('falls back to a streaming replica, and never names the leader, the lost primary or a stopped member', () => {
    expect(
      readableStandby(
        [at('db1', 'replica', 'streaming'), at('db2', 'replica', 'stopped'), at('db3', 'leader', 'running')],
        'db1',
      ),
    ).toBeUndefined();
    expect(readableStandby([at('db1', 'leader', 'running'), at('db2', 'replica', 'running')])).toBe('db2');
  });
});
