/**
 * Which peers may tell the manager a client's address (X-Forwarded-For): only the load balancers, by
 * the names they answer to on the network (`lb`), resolved now and every few seconds after (a Swarm
 * moves them). A client that reaches a manager directly cannot spoof its address past the login
 * lock-out; the All-in-One names none and trusts nobody.
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from '../log.ts';

const REFRESH_MS = 5_000;

/** `::ffff:10.0.0.5` (an IPv4 peer on a dual-stack socket) is 10.0.0.5. */
const plain = (address: string) => address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');

export class TrustedProxies {
  private readonly names: readonly string[];
  private readonly log: Logger;
  private addresses = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(names: readonly string[], log: Logger) {
    this.names = names;
    this.log = log;
  }

  /** Fastify's trustProxy: only the direct peer (hop 0), and only when it is a load balancer. */
  readonly trusts = (address: string, hop: number): boolean =>
    hop === 0 && this.addresses.has(plain(address));

  async refresh(): Promise<void> {
    const next = new Set<string>();
    for (const name of this.names) {
      try {
        for (const { address } of await lookup(name, { all: true })) next.add(plain(address));
      } catch {
        // Not resolvable now (the LB not started yet): trusted once it is.
      }
    }
    if ([...next].sort().join() !== [...this.addresses].sort().join()) {
      this.log.info(
        `X-Forwarded-For trusted from ${next.size ? [...next].join(', ') : 'no address'} (${this.names.join(', ')})`,
      );
    }
    this.addresses = next;
  }

  /** Resolves the names once (awaited: the first request already sees them), then every few seconds. */
  async start(): Promise<void> {
    if (this.names.length === 0 || this.timer) return;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
