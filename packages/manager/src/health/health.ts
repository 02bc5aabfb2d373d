/**
 * Health, computed live. Every few seconds each manager writes its heartbeat to the database (which
 * is also the check that the primary takes writes) with what it sees of the broker and its worker.
 * `/status` is this node's latest view; `/cluster-status` gathers managers from their heartbeats,
 * database nodes from Patroni (or the direct check) and broker nodes by probing each host.
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import { withTimeout } from '@cosmo/wait';
import type { BrokerClient } from '../broker/client.ts';
import type { ManagerConfig, Role } from '../config.ts';
import type { Logger } from '../log.ts';
import type { Database } from '../storage/db.ts';
import { clusterMembers, memberVersion } from '../storage/patroni.ts';
import type { Worker } from '../workflows/worker.ts';
import { type ClusterState, type ServiceName, serviceState, worst } from './quorum.ts';

export interface NodeHealth {
  /**
   * ok: the primary takes this manager's writes. readable: without them, a standby still answers
   * reads (a failover under way, since `failoverSince`).
   */
  db: { ok: boolean; readable?: boolean; error?: string; primary?: string; failoverSince?: string };
  broker: { ok: boolean; host?: string };
  worker: { ok: boolean; enabled: boolean; active: number; error?: string };
  checkedAt: string;
}

export interface ClusterNode {
  status: 'OK' | 'Fail';
  private_ip: string;
  public_ip: string;
  version: string;
  failures: string[];
  services: Record<string, unknown>;
  metrics: Record<string, unknown>;
}

export type ClusterService =
  | {
      is_external: false;
      status: ClusterState;
      nodes: Record<string, ClusterNode>;
      /** What is wrong with the service as a whole (a failover under way), beside its nodes'. */
      failures?: string[];
    }
  | { is_external: true; status: ClusterState };

export interface ClusterStatus {
  status: ClusterState;
  services: Record<ServiceName, ClusterService>;
}

/** A member's address: its host name resolved (members are named by host name on the network). */
async function addressOf(host: string): Promise<string> {
  if (net.isIP(host)) return host;
  try {
    return (await withTimeout(lookup(host, { family: 4 }), 1_000, `resolving ${host}`)).address;
  } catch {
    return host;
  }
}

export class HealthMonitor {
  private readonly db: Database;
  private readonly broker: BrokerClient;
  private readonly worker: Worker | undefined;
  private readonly config: ManagerConfig;
  private readonly version: string;
  private readonly role: Role;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private cluster: { at: number; value: Promise<ClusterStatus> } | undefined;
  /** Set on SIGTERM: `/ok` fails so load balancers stop sending here, while requests are still served. */
  draining = false;
  local: NodeHealth = {
    db: { ok: false, error: 'not checked yet' },
    broker: { ok: false },
    worker: { ok: false, enabled: false, active: 0 },
    checkedAt: new Date(0).toISOString(),
  };

  constructor(options: {
    db: Database;
    broker: BrokerClient;
    worker: Worker | undefined;
    config: ManagerConfig;
    version: string;
    role: Role;
    log: Logger;
  }) {
    this.db = options.db;
    this.broker = options.broker;
    this.worker = options.worker;
    this.config = options.config;
    this.version = options.version;
    this.role = options.role;
    this.log = options.log;
  }

  /**
   * This node is fit to serve: the database answers (writes, or reads alone while it fails over: the
   * load balancer keeps it, and its writes wait or fail with a 503 naming the failover), the broker
   * is connected, the worker consumes.
   */
  get ok(): boolean {
    return this.serving && this.local.broker.ok && (!this.local.worker.enabled || this.local.worker.ok);
  }

  /** This node can answer requests at all: its database takes writes, or a standby its reads. */
  get serving(): boolean {
    return this.local.db.ok || this.local.db.readable === true;
  }

  async check(): Promise<NodeHealth> {
    const broker = {
      ok: this.broker.connected,
      ...(this.broker.connectedHost ? { host: this.broker.connectedHost.host } : {}),
    };
    const worker = {
      enabled: this.worker !== undefined,
      ok: this.broker.consumersActive,
      active: this.worker?.active ?? 0,
      ...(this.broker.consumerError && !this.broker.consumersActive
        ? { error: this.broker.consumerError }
        : {}),
    };
    const health: NodeHealth = { db: { ok: false }, broker, worker, checkedAt: new Date().toISOString() };
    try {
      await withTimeout(
        this.db.query(
          `INSERT INTO managers (hostname, private_ip, public_ip, version, roles, last_seen, health)
           VALUES ($1, $2, $3, $4, $5, now(), $6)
           ON CONFLICT (hostname) DO UPDATE SET private_ip = $2, public_ip = $3, version = $4, roles = $5, last_seen = now(), health = $6`,
          [
            this.config.nodeName,
            this.config.privateIp,
            this.config.publicIp,
            this.version,
            this.role,
            JSON.stringify({ broker, worker }),
          ],
        ),
        3_000,
        'the heartbeat write',
      );
      health.db = { ok: true, ...(this.db.primaryHost ? { primary: this.db.primaryHost } : {}) };
      // Housekeeping, once a minute: its failure is not the database's.
      if (Date.now() - this.forgotAt > 60_000) {
        this.forgotAt = Date.now();
        void this.forgetGoneManagers().catch(() => {});
      }
    } catch (error) {
      health.db = { ok: false, error: (error as Error).message };
      const since = this.db.failoverSince;
      if (since) {
        health.db.failoverSince = since.toISOString();
        health.db.readable = await withTimeout(this.db.read('SELECT 1'), 3_000, 'a read on a standby').then(
          () => true,
          () => false,
        );
      }
    }
    if (health.db.ok !== this.local.db.ok || health.db.readable !== this.local.db.readable) {
      this.log[health.db.ok ? 'info' : 'warn'](
        `database ${health.db.ok ? 'reachable again' : `${health.db.readable ? 'read-only (failing over)' : 'unreachable'}: ${health.db.error}`}`,
      );
    }
    this.local = health;
    return health;
  }

  start(): void {
    void this.check();
    // A broker (re)connection or consumer change shows at once, not after the next tick or the
    // cluster-status cache's second.
    this.broker.onChange(() => {
      void this.check().then(() => {
        this.cluster = undefined;
      });
    });
    this.timer = setInterval(() => void this.check(), this.config.heartbeat.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** `/status`: this manager's services. */
  status(): {
    status: 'OK' | 'Fail';
    services: Record<string, { status: 'Active' | 'Inactive'; is_remote: boolean; extra_info: object }>;
  } {
    const services: Record<
      string,
      { status: 'Active' | 'Inactive'; is_remote: boolean; extra_info: object }
    > = {
      'Manager Rest-Service': { status: 'Active', is_remote: false, extra_info: {} },
      PostgreSQL: {
        status: this.local.db.ok ? 'Active' : 'Inactive',
        is_remote: true,
        extra_info: {
          primary: this.local.db.primary ?? null,
          ...(this.local.db.error ? { error: this.local.db.error } : {}),
          ...(this.local.db.failoverSince
            ? { failover_since: this.local.db.failoverSince, reads_served: this.local.db.readable === true }
            : {}),
        },
      },
      RabbitMQ: {
        status: this.local.broker.ok ? 'Active' : 'Inactive',
        is_remote: true,
        extra_info: { connected_to: this.local.broker.host ?? null },
      },
    };
    if (this.local.worker.enabled) {
      services['Workflow Worker'] = {
        status: this.local.worker.ok ? 'Active' : 'Inactive',
        is_remote: false,
        extra_info: {
          running_executions: this.local.worker.active,
          ...(this.local.worker.error ? { error: this.local.worker.error } : {}),
        },
      };
    }
    return { status: this.ok ? 'OK' : 'Fail', services };
  }

  /** `/cluster-status`, computed at most once a second however many clients ask. */
  clusterStatus(): Promise<ClusterStatus> {
    const now = Date.now();
    if (!this.cluster || now - this.cluster.at > 1_000) {
      this.cluster = { at: now, value: this.computeCluster() };
    }
    return this.cluster.value;
  }

  private async computeCluster(): Promise<ClusterStatus> {
    const [manager, db, broker] = await Promise.all([this.managers(), this.dbNodes(), this.brokerNodes()]);
    return { status: worst([manager.status, db.status, broker.status]), services: { manager, db, broker } };
  }

  private service(name: ServiceName, nodes: Record<string, ClusterNode>): ClusterService {
    const list = Object.values(nodes);
    const healthy = list.filter((node) => node.status === 'OK').length;
    return { is_external: false, status: serviceState(name, healthy, list.length), nodes };
  }

  private node(
    ip: string,
    failures: string[],
    services: Record<string, unknown> = {},
    version = '',
  ): ClusterNode {
    return {
      status: failures.length === 0 ? 'OK' : 'Fail',
      private_ip: ip,
      public_ip: ip,
      version,
      failures,
      services,
      metrics: {},
    };
  }

  private forgotAt = 0;

  /** A manager gone for longer than the forget time is no longer a member (written with the heartbeat). */
  private async forgetGoneManagers(): Promise<void> {
    await withTimeout(
      this.db.query('DELETE FROM managers WHERE last_seen < now() - make_interval(secs => $1)', [
        this.config.heartbeat.forgetSeconds,
      ]),
      3_000,
      'forgetting managers gone for good',
    );
  }

  private async managers(): Promise<ClusterService> {
    const nodes: Record<string, ClusterNode> = {};
    // During a failover no manager can write its heartbeat: silence is counted up to its start.
    const since = this.db.failoverSince ?? null;
    try {
      const { rows } = await withTimeout(
        this.db.read<{
          hostname: string;
          private_ip: string;
          public_ip: string;
          version: string;
          roles: string;
          age: number;
          health: { broker?: { ok: boolean }; worker?: { ok: boolean; enabled: boolean; error?: string } };
        }>(
          'SELECT *, extract(epoch FROM coalesce($1::timestamptz, now()) - last_seen)::float AS age FROM managers ORDER BY hostname',
          [since],
        ),
        3_000,
        'reading manager heartbeats',
      );
      for (const row of rows) {
        const failures: string[] = [];
        if (row.age > this.config.heartbeat.staleSeconds)
          failures.push(`no heartbeat for ${Math.round(row.age)} s`);
        if (row.health.broker && !row.health.broker.ok) failures.push('not connected to the broker');
        if (row.health.worker?.enabled && !row.health.worker.ok)
          failures.push(
            `worker not consuming${row.health.worker.error ? `: ${row.health.worker.error}` : ''}`,
          );
        nodes[row.hostname] = {
          ...this.node(row.private_ip, failures, { roles: row.roles }, row.version),
          public_ip: row.public_ip,
        };
      }
    } catch (error) {
      // Without the database this node can only speak for itself.
      nodes[this.config.nodeName] = this.node(
        this.config.privateIp,
        [`database unreachable: ${(error as Error).message}`],
        {},
        this.version,
      );
    }
    return this.service('manager', nodes);
  }

  private async dbNodes(): Promise<ClusterService> {
    const { db } = this.config;
    if (db.external) return { is_external: true, status: this.local.db.ok ? 'OK' : 'Fail' };
    if (db.patroniUrls.length === 0) {
      return this.service('db', {
        [db.host]: this.node(
          await addressOf(db.host),
          this.local.db.ok ? [] : [this.local.db.error ?? 'unreachable'],
          { PostgreSQL: this.local.db.ok ? 'Active' : 'Inactive' },
        ),
      });
    }
    const nodes: Record<string, ClusterNode> = {};
    let members: Awaited<ReturnType<typeof clusterMembers>> = [];
    try {
      members = await clusterMembers(db.patroniUrls, db.patroniTls);
    } catch (error) {
      for (const url of db.patroniUrls) {
        const host = new URL(url).hostname;
        nodes[host] = this.node(await addressOf(host), [`Patroni unreachable: ${(error as Error).message}`], {
          PostgreSQL: 'Inactive',
          Patroni: 'Inactive',
        });
      }
      return this.service('db', nodes);
    }
    const details = await Promise.all(
      members.map(async (member) => ({
        member,
        ip: await addressOf(member.host),
        version: await memberVersion(member, db.patroniTls),
      })),
    );
    // Synchronous replication is what makes a failover lose nothing: a leader with running
    // standbys but none synchronous (yet, or any more) is not healthy.
    const unsynced =
      members.length > 1 &&
      members.some((member) => member.role !== 'leader' && ['running', 'streaming'].includes(member.state)) &&
      !members.some((member) => member.role === 'sync_standby');
    const since = this.db.failoverSince?.toISOString();
    for (const { member, ip, version } of details) {
      const failures = ['running', 'streaming'].includes(member.state) ? [] : [`state ${member.state}`];
      if (unsynced && member.role === 'leader')
        failures.push('no synchronous standby: commits are not replicated');
      // Patroni names the old leader until its key expires, though it answers nothing.
      if (since && member.role === 'leader') failures.push(`the primary does not answer since ${since}`);
      nodes[member.name] = this.node(
        ip,
        failures,
        {
          PostgreSQL: failures.length === 0 ? 'Active' : 'Inactive',
          Patroni: 'Active',
          role: member.role,
          state: member.state,
          lag: member.lag ?? 0,
        },
        version,
      );
    }
    // A configured member that Patroni does not list (stopped, or not registered again yet) is down.
    for (const url of db.patroniUrls) {
      const host = new URL(url).hostname;
      if (!members.some((member) => member.name === host || member.host === host)) {
        nodes[host] = this.node(await addressOf(host), ['not a member of the Patroni cluster'], {
          PostgreSQL: 'Inactive',
          Patroni: 'Inactive',
        });
      }
    }
    const service = this.service('db', nodes);
    if (!since || service.is_external) return service;
    // No primary: reads go on from a standby, writes wait. Never OK, whatever the members look like.
    return {
      ...service,
      status: service.status === 'OK' ? 'Degraded' : service.status,
      failures: [
        `failover in progress since ${since}: writes wait for a new primary, reads are served by a standby`,
      ],
    };
  }

  private async brokerNodes(): Promise<ClusterService> {
    const { mq } = this.config;
    if (mq.external) return { is_external: true, status: this.local.broker.ok ? 'OK' : 'Fail' };
    const results = await Promise.all(
      mq.hosts.map(
        async (host) => [host, await this.broker.probe(host), await addressOf(host.host)] as const,
      ),
    );
    const nodes: Record<string, ClusterNode> = {};
    for (const [host, probe, ip] of results) {
      nodes[host.host] = probe.ok
        ? this.node(ip, [], { RabbitMQ: 'Active' }, probe.version)
        : this.node(ip, [`AMQP connection to ${host.host}:${host.port} failed: ${probe.error}`], {
            RabbitMQ: 'Inactive',
          });
    }
    return this.service('broker', nodes);
  }
}
