import { describe, expect, it } from 'vitest';
import { quorum, serviceState, worst } from './quorum.ts';

describe('cluster quorum rules', () => {
  it('needs one manager, and a majority of db and broker nodes', () => {
    expect(quorum('manager', 3)).toBe(1);
    expect(quorum('db', 3)).toBe(2);
    expect(quorum('broker', 3)).toBe(2);
    expect(quorum('db', 1)).toBe(1);
    expect(quorum('db', 4)).toBe(3);
    expect(quorum('broker', 5)).toBe(3);
  });

  it.each([
    ['manager', 3, 3, 'OK'],
    ['manager', 1, 3, 'Degraded'],
    ['manager', 0, 3, 'Fail'],
    ['db', 3, 3, 'OK'],
    ['db', 2, 3, 'Degraded'],
    ['db', 1, 3, 'Fail'],
    ['broker', 1, 1, 'OK'],
    ['broker', 0, 1, 'Fail'],
    ['broker', 2, 4, 'Fail'],
    ['broker', 3, 4, 'Degraded'],
    ['db', 0, 0, 'Fail'],
  ] as const)('%s with %i of %i healthy is %s', (service, healthy, nodes, expected) => {
    expect(serviceState(service, healthy, nodes)).toBe(expected);
  });

  it('takes the worst service as the cluster state', () => {
    expect(worst(['OK', 'OK', 'OK'])).toBe('OK');
    expect(worst(['OK', 'Degraded', 'OK'])).toBe('Degraded');
    expect(worst(['Degraded', 'Fail', 'OK'])).toBe('Fail');
    expect(worst([])).toBe('OK');
  });
});
