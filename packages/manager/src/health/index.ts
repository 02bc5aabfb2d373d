/** Health: this manager's services, the cluster's members, and quorum rules. */
export * from './health.ts';
export * from './quorum.ts';
