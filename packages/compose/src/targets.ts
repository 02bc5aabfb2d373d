/**
 * Which keys each target accepts, and how each renders what the plan leaves open. `docker stack
 * deploy` rejects some keys that compose accepts; the emitters consult this table rather than
 * patching one dialect into the other.
 */
export type Target = 'compose' | 'swarm';

export interface TargetKeys {
  pullPolicy: boolean;
  restart: boolean;
  stopGracePeriod: boolean;
  deploy: boolean;
  containerResources: boolean;
  /** Published ports bound to one host address (compose); Swarm publishes on every address. */
  hostIp: boolean;
  /** The `mode` of a published port, where the target has one. */
  publishMode?: 'host';
  /**
   * Replicated services: compose writes one service per instance (`manager1..N`, each answering to
   * the service's name through a network alias); Swarm writes one service with replicas.
   */
  expandReplicas: boolean;
  /** What the plan's `{{instance}}` becomes for instance i of service name. */
  instanceName: (name: string, i: number) => string;
  /**
   * Owner and mode of each mounted secret, where the target mounts them itself (Swarm: 0444 unless
   * told). Root only: every image's entrypoint starts as root and copies what its service needs.
   * Compose binds the operator's 0600 files as they are.
   */
  secretAccess?: { uid: string; gid: string; mode: number };
  /**
   * `security_opt: [no-new-privileges:true]` and `pids_limit`: compose has both; `docker stack
   * deploy` ignores security_opt (set `"no-new-privileges": true` in each engine's daemon.json
   * instead) and its stack format has no process limit (dockerd's default-pids-limit applies).
   */
  securityOpt: boolean;
  /** A top-level `name:` (the compose project name), so plain `docker compose up` in its folder works. */
  projectName: boolean;
  /** How the header tells a reader to run the file; `<name>` is the project's name. */
  runHint: string;
}

export const TARGET_KEYS: Record<Target, TargetKeys> = {
  // compose: restart and resources on the service; pull_policy for local-only images.
  compose: {
    pullPolicy: true,
    restart: true,
    stopGracePeriod: true,
    deploy: false,
    containerResources: true,
    hostIp: true,
    securityOpt: true,
    expandReplicas: true,
    instanceName: (name, i) => `${name}${i}`,
    projectName: true,
    runHint:
      '`cosmo up` (builds the images, starts, waits until healthy), or `docker compose up -d` in this folder',
  },
  // swarm: no pull_policy, no top-level name; restart and resources go under deploy. Every port is
  // published in host mode and every service resolved by DNS round robin: Swarm's ingress mesh and
  // virtual IPs need IPVS, which some kernels lack (and these work where it is present too).
  swarm: {
    pullPolicy: false,
    restart: false,
    stopGracePeriod: true,
    deploy: true,
    containerResources: false,
    hostIp: false,
    publishMode: 'host',
    secretAccess: { uid: '0', gid: '0', mode: 0o400 },
    securityOpt: false,
    expandReplicas: false,
    instanceName: (name) => `${name}{{.Task.Slot}}`,
    projectName: false,
    runHint:
      '`docker stack deploy -c <this file> <name>` on a Swarm manager, its nodes labelled as the placement constraints say',
  },
};
