/**
 * Which keys each target accepts. `docker stack deploy` rejects some keys that compose accepts;
 * the emitters consult this table rather than patching one dialect into the other.
 */
export type Target = 'compose' | 'swarm';

export const TARGET_KEYS: Record<
  Target,
  {
    pullPolicy: boolean;
    restart: boolean;
    stopGracePeriod: boolean;
    deploy: boolean;
    containerResources: boolean;
  }
> = {
  // compose: restart and resources on the service; pull_policy for local-only images.
  compose: {
    pullPolicy: true,
    restart: true,
    stopGracePeriod: true,
    deploy: false,
    containerResources: true,
  },
  // swarm: no pull_policy, no top-level name; restart and resources go under deploy.
  swarm: {
    pullPolicy: false,
    restart: false,
    stopGracePeriod: true,
    deploy: true,
    containerResources: false,
  },
};
