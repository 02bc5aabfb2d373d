/**
 * plan -> Compose Specification document (compose or Swarm dialect). Output is deterministic: the
 * same plan gives the same bytes (keys in a fixed order, nothing time- or host-dependent), and plain
 * (no YAML anchors or aliases).
 */
import path from 'node:path';
import { INSTANCE, type Plan, type ServicePlan } from '@cosmo/topology';
import { stringify } from 'yaml';
import { TARGET_KEYS, type Target, type TargetKeys } from './targets.ts';

export interface EmitOptions {
  target: Target;
  /** Folder of cosmo.yaml: secret files are relative to it. */
  configDir: string;
  /** Folder the file is written to: paths in the file are relative to it. */
  outDir: string;
}

const seconds = (s: number) => `${s}s`;

const sorted = (record: Record<string, string>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => a.localeCompare(b)));

function service(svc: ServicePlan, keys: TargetKeys, instance: string): Record<string, unknown> {
  const fill = (value: string) => value.replaceAll(INSTANCE, instance);
  const out: Record<string, unknown> = { image: svc.image };
  if (keys.pullPolicy && svc.localImage) out.pull_policy = 'never';
  if (svc.hostname) out.hostname = fill(svc.hostname);
  if (Object.keys(svc.environment).length > 0) {
    out.environment = sorted(
      Object.fromEntries(Object.entries(svc.environment).map(([k, v]) => [k, fill(v)])),
    );
  }
  if (svc.secrets.length > 0) {
    out.secrets = svc.secrets.map((s) => ({ source: s.name, target: s.target, ...keys.secretAccess }));
  }
  const mounts = [
    ...svc.volumes.map((v) => ({ type: 'volume', source: v.volume, target: v.target })),
    ...svc.tmpfs.map((target) => ({ type: 'tmpfs', target })),
  ];
  if (mounts.length > 0) out.volumes = mounts;
  if (svc.ports.length > 0) {
    out.ports = svc.ports.map((p) => ({
      target: p.target,
      published: p.published,
      protocol: 'tcp',
      ...(keys.hostIp && p.host !== '0.0.0.0' ? { host_ip: p.host } : {}),
      ...(keys.publishMode ? { mode: keys.publishMode } : {}),
    }));
  }
  out.healthcheck = {
    test: svc.healthcheck.test,
    interval: seconds(svc.healthcheck.intervalSeconds),
    timeout: seconds(svc.healthcheck.timeoutSeconds),
    retries: svc.healthcheck.retries,
    start_period: seconds(svc.healthcheck.startPeriodSeconds),
  };
  if (svc.privileges) {
    out.cap_drop = ['ALL'];
    if (svc.privileges.capabilities.length > 0) out.cap_add = [...svc.privileges.capabilities];
    if (keys.securityOpt) {
      out.security_opt = ['no-new-privileges:true'];
      out.pids_limit = svc.privileges.pidsLimit;
    }
  }
  if (keys.stopGracePeriod) out.stop_grace_period = seconds(svc.stopGracePeriodSeconds);
  if (keys.restart) out.restart = svc.restart;
  if (keys.containerResources) {
    if (svc.resources.cpus !== undefined) out.cpus = svc.resources.cpus;
    if (svc.resources.memory !== undefined) out.mem_limit = svc.resources.memory;
  }
  // Every instance of a replicated service answers to the service's own name, as a Swarm service's
  // tasks do; a service may answer to more names (compact nodes: `manager`).
  const aliases = [
    ...(keys.expandReplicas && svc.replicas !== undefined ? [svc.name] : []),
    ...(svc.aliases ?? []),
  ];
  if (aliases.length > 0) out.networks = { default: { aliases } };
  if (keys.deploy) {
    const limits = {
      ...(svc.resources.cpus !== undefined ? { cpus: String(svc.resources.cpus) } : {}),
      ...(svc.resources.memory !== undefined ? { memory: svc.resources.memory } : {}),
    };
    out.deploy = {
      ...(svc.everyNode ? { mode: 'global' } : { replicas: svc.replicas ?? 1 }),
      endpoint_mode: 'dnsrr',
      ...(svc.nodeLabel ? { placement: { constraints: [`node.labels.${svc.nodeLabel} == true`] } } : {}),
      // A new task joins before an old one leaves, and only once healthy: a rolling update fails nothing.
      ...(svc.replicas !== undefined
        ? { update_config: { order: 'start-first', failure_action: 'rollback' } }
        : {}),
      restart_policy: { condition: SWARM_RESTART[svc.restart] },
      ...(Object.keys(limits).length > 0 ? { resources: { limits } } : {}),
      labels: { ...svc.labels },
    };
  }
  out.labels = { ...svc.labels };
  return out;
}

function services(plan: Plan, keys: TargetKeys): [string, Record<string, unknown>][] {
  return plan.services.flatMap((svc): [string, Record<string, unknown>][] => {
    if (keys.expandReplicas && svc.replicas !== undefined) {
      return Array.from({ length: svc.replicas }, (_, i) => {
        const name = keys.instanceName(svc.name, i + 1);
        return [name, service(svc, keys, name)];
      });
    }
    return [[svc.name, service(svc, keys, keys.instanceName(svc.name, 1))]];
  });
}

/** The names of the services a target's file has (`manager1..N` in compose for a replicated manager). */
export function serviceNames(plan: Plan, target: Target): string[] {
  const keys = TARGET_KEYS[target];
  return plan.services.flatMap((svc) =>
    keys.expandReplicas && svc.replicas !== undefined
      ? Array.from({ length: svc.replicas }, (_, i) => keys.instanceName(svc.name, i + 1))
      : [svc.name],
  );
}

/** The document as an object, for validation and tests. */
/**
 * Compose's restart policies in Swarm's words. Swarm has no "unless stopped" (a stopped service is
 * scaled to 0 or removed), so it is `any`: a task that ends, even with code 0 (Swarm stops an
 * unhealthy task gracefully), is started again.
 */
const SWARM_RESTART: Record<ServicePlan['restart'], 'any' | 'on-failure'> = {
  always: 'any',
  'unless-stopped': 'any',
  'on-failure': 'on-failure',
};

export function composeDocument(plan: Plan, options: EmitOptions): Record<string, unknown> {
  const keys = TARGET_KEYS[options.target];
  const doc: Record<string, unknown> = {
    ...(keys.projectName ? { name: plan.name } : {}),
    services: Object.fromEntries(services(plan, keys)),
    volumes: Object.fromEntries(plan.volumes.map((v) => [v, { labels: { 'io.cosmo.project': plan.name } }])),
  };
  if (plan.secrets.length > 0) {
    doc.secrets = Object.fromEntries(
      plan.secrets.map((s) => [
        s.name,
        { file: path.relative(options.outDir, path.resolve(options.configDir, s.file)) || '.' },
      ]),
    );
  }
  return doc;
}

export function renderCompose(plan: Plan, options: EmitOptions): string {
  const header = [
    `# Cosmo ${plan.mode}, project ${plan.name}. Run: ${TARGET_KEYS[options.target].runHint.replace('<name>', plan.name)}.`,
    '# Generated by cosmo (init, up or generate) from cosmo.yaml: change cosmo.yaml and generate again rather than editing.',
  ].join('\n');
  return `${header}\n${stringify(composeDocument(plan, options), { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
