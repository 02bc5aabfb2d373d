import { defaultConfigText, parseConfig, planFor } from '@cosmo/topology';
import { describe, expect, it } from 'vitest';
import { missingLabels, type SwarmNode } from './swarm.ts';

const plan = (mode: string) =>
  planFor(parseConfig(defaultConfigText({ mode, credentials: 'files' })), '1.0.0');
const node = (hostname: string, labels: Record<string, string> = {}): SwarmNode => ({
  id: `id-${hostname}`,
  hostname,
  address: '10.0.0.1',
  labels,
  version: 1,
  spec: {},
});
const described = (changes: ReturnType<typeof missingLabels>) =>
  changes.map((c) => `${c.label}@${c.node.hostname}`);

describe('the node labels a stack needs', () => {
  it('pins each member with data to a node of its own and puts the shared labels on every node', () => {
    expect(described(missingLabels(plan('compact'), [node('a'), node('b'), node('c')]))).toEqual([
      'io.cosmo.node1@a',
      'io.cosmo.node2@b',
      'io.cosmo.node3@c',
      'io.cosmo.lb@a',
      'io.cosmo.lb@b',
      'io.cosmo.lb@c',
    ]);
  });

  it('keeps the labels already there, and places the missing ones on nodes holding no member', () => {
    const nodes = [node('a', { 'io.cosmo.node2': 'true' }), node('b'), node('c', { 'io.cosmo.lb': 'true' })];
    expect(described(missingLabels(plan('compact'), nodes))).toEqual([
      'io.cosmo.node1@b',
      'io.cosmo.node3@c',
    ]);
  });

  it('needs nothing when every label is in place', () => {
    const nodes = ['a', 'b', 'c'].map((h, i) =>
      node(h, { [`io.cosmo.node${i + 1}`]: 'true', 'io.cosmo.lb': 'true' }),
    );
    expect(missingLabels(plan('compact'), nodes)).toEqual([]);
  });

  it('refuses too few nodes, and a pinned label on two nodes', () => {
    expect(() => missingLabels(plan('distributed'), [node('a'), node('b'), node('c')])).toThrow(
      'io.cosmo.queue1 needs a node of its own: the Swarm has 3 ready node(s) for 6 pinned members',
    );
    const twice = [
      node('a', { 'io.cosmo.node1': 'true' }),
      node('b', { 'io.cosmo.node1': 'true' }),
      node('c'),
    ];
    expect(() => missingLabels(plan('compact'), twice)).toThrow(
      'io.cosmo.node1 is on a, b: it must be on exactly one node',
    );
  });
});
