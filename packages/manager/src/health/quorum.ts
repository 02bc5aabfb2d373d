/**
 * Cluster health rules. A service is OK when every node is healthy, Degraded when at least a quorum
 * is (managers: 1; database and broker: a majority, n//2+1), else Fail. The cluster is its worst service.
 */
export type ServiceName = 'manager' | 'db' | 'broker';
export type ClusterState = 'OK' | 'Degraded' | 'Fail';

export function quorum(service: ServiceName, nodes: number): number {
  return service === 'manager' ? 1 : Math.floor(nodes / 2) + 1;
}

export function serviceState(service: ServiceName, healthy: number, nodes: number): ClusterState {
  if (nodes > 0 && healthy === nodes) return 'OK';
  if (nodes > 0 && healthy >= quorum(service, nodes)) return 'Degraded';
  return 'Fail';
}

const RANK: Record<ClusterState, number> = { OK: 0, Degraded: 1, Fail: 2 };

export function worst(states: readonly ClusterState[]): ClusterState {
  return states.reduce<ClusterState>((a, b) => (RANK[b] > RANK[a] ? b : a), 'OK');
}
