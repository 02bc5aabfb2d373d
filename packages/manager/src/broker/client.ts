/**
 * RabbitMQ: one connection to any of the configured hosts, moved to the next on loss; a confirm
 * channel for publishing (a publish returns only once the broker has it); consumers re-attached
 * after every reconnect. The queue type is the deployment's: quorum queues where there is a cluster
 * of brokers to replicate to, a durable classic queue on a single broker (a quorum queue there adds
 * a Raft log and its metadata, which a hard kill can leave unrecoverable, and replicates nothing).
 * A consumer the broker refuses is retried with a growing delay, never in a tight loop, and the
 * reason is kept for health.
 */
import net from 'node:net';
import { sleep } from '@cosmo/wait';
import amqp from 'amqplib';
import { unavailable } from '../api/errors.ts';
import type { HostPort, ManagerConfig } from '../config.ts';
import type { Logger } from '../log.ts';

export const EXECUTIONS_QUEUE = 'cosmo.executions';
/**
 * Where the broker moves an execution's message once its delivery limit is spent (a policy set by
 * cosmo/rabbitmq: workers died that many times holding it). Declared by every manager before it
 * publishes, so nothing dead-lettered is dropped for want of a queue.
 */
export const DEAD_EXECUTIONS_QUEUE = 'cosmo.executions.dead';

export type Handler = (message: amqp.ConsumeMessage, channel: amqp.Channel) => Promise<void>;

interface Consumer {
  queue: string;
  prefetch: number;
  handler: Handler;
}

export class BrokerClient {
  private readonly config: ManagerConfig['mq'];
  private readonly log: Logger;
  private connection: amqp.ChannelModel | undefined;
  private publisher: amqp.ConfirmChannel | undefined;
  private readonly consumers: Consumer[] = [];
  private consuming = false;
  private consumeFailures = 0;
  private attachTimer: { timer: NodeJS.Timeout; connection: amqp.ChannelModel } | undefined;
  /** Why the consumers are not attached, when the broker refused them. */
  consumerError: string | undefined;
  private next = 0;
  private closing = false;
  private connecting: Promise<void> | undefined;
  connectedHost: HostPort | undefined;

  constructor(config: ManagerConfig['mq'], log: Logger) {
    this.config = config;
    this.log = log;
  }

  get connected(): boolean {
    return this.connection !== undefined && this.publisher !== undefined;
  }

  /** True when every registered consumer is attached to the current connection. */
  get consumersActive(): boolean {
    return this.connected && this.consuming;
  }

  private get queueArguments(): Record<string, string> {
    return { 'x-queue-type': this.config.queueType };
  }

  private url(host: HostPort): string {
    const user = encodeURIComponent(this.config.user);
    const pass = encodeURIComponent(this.config.password);
    const vhost = encodeURIComponent(this.config.vhost);
    const scheme = this.config.tls ? 'amqps' : 'amqp';
    return `${scheme}://${user}:${pass}@${host.host}:${host.port}/${vhost}?heartbeat=5&connection_timeout=3000`;
  }

  /** The socket's options: with TLS, the broker's certificate is checked (name and CA). */
  private socketOptions(host: HostPort, name: string): object {
    return {
      clientProperties: { connection_name: name },
      ...(this.config.tls
        ? {
            // SNI takes names only; an address is still checked against the certificate's IP entries.
            ...(net.isIP(host.host) ? {} : { servername: host.host }),
            ...(this.config.ca ? { ca: [this.config.ca] } : {}),
          }
        : {}),
    };
  }

  /**
   * Broker health at the protocol level, not a port probe: an AMQP connection opened with the
   * manager's credentials and closed. Gives the broker's version (its server properties).
   */
  async probe(
    host: HostPort,
    ms = 2_000,
  ): Promise<{ ok: true; version: string } | { ok: false; error: string }> {
    const url = this.url(host).replace('connection_timeout=3000', `connection_timeout=${ms}`);
    try {
      const connection = await amqp.connect(url, this.socketOptions(host, 'cosmo-manager-health'));
      connection.on('error', () => {});
      const properties = (
        connection as unknown as { connection: { serverProperties?: { version?: string } } }
      ).connection.serverProperties;
      await connection.close().catch(() => {});
      return { ok: true, version: properties?.version ?? '' };
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }

  /** Connects, trying each host once from the next one in turn. */
  async connect(): Promise<void> {
    this.connecting ??= this.tryHosts().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Called whenever the connection comes or goes (health reports it at once, not at the next beat). */
  private readonly listeners: (() => void)[] = [];
  private failures = 0;

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private async tryHosts(): Promise<void> {
    let lastError: unknown;
    for (let i = 0; i < this.config.hosts.length; i++) {
      const host = this.config.hosts[(this.next + i) % this.config.hosts.length]!;
      try {
        await this.open(host);
        this.next = (this.next + i + 1) % this.config.hosts.length;
        return;
      } catch (error) {
        lastError = error;
        // A broker still starting refuses many attempts in a row: say so once, then every 20th time.
        if (this.failures++ % 20 === 0) {
          this.log.warn(
            `broker ${host.host}:${host.port} unreachable (${(error as Error).message}); retrying`,
          );
        }
      }
    }
    this.next = (this.next + 1) % this.config.hosts.length;
    throw lastError;
  }

  private async open(host: HostPort): Promise<void> {
    const connection = await amqp.connect(this.url(host), this.socketOptions(host, 'cosmo-manager'));
    connection.on('error', (error: Error) => this.log.warn(`broker connection error: ${error.message}`));
    const publisher = await connection.createConfirmChannel();
    for (const queue of [EXECUTIONS_QUEUE, DEAD_EXECUTIONS_QUEUE]) {
      try {
        await publisher.assertQueue(queue, { durable: true, arguments: this.queueArguments });
      } catch (error) {
        await connection.close().catch(() => {});
        throw new Error(declareProblem(queue, this.config.queueType, error as Error));
      }
    }
    connection.on('close', () => {
      if (this.connection !== connection) return;
      this.connection = undefined;
      this.publisher = undefined;
      this.consuming = false;
      this.connectedHost = undefined;
      if (!this.closing) {
        this.log.warn(`broker connection to ${host.host} closed; reconnecting`);
        this.changed();
        void this.reconnectLoop();
      }
    });
    publisher.on('error', () => {});
    this.connection = connection;
    this.publisher = publisher;
    this.connectedHost = host;
    this.log.info(`connected to broker ${host.host}:${host.port}`);
    this.failures = 0;
    this.scheduleAttach(connection);
    this.changed();
  }

  /** None at first, then 0.5 s doubling with each refusal in a row, up to 30 s. */
  private attachDelay(): number {
    return this.consumeFailures === 0 ? 0 : Math.min(500 * 2 ** (this.consumeFailures - 1), 30_000);
  }

  /** Attaches the consumers now, or after a delay that grows with each refusal (up to 30 s). */
  private scheduleAttach(connection: amqp.ChannelModel): void {
    if (this.consumers.length === 0) return;
    if (this.attachTimer) {
      if (this.attachTimer.connection === connection) return;
      clearTimeout(this.attachTimer.timer); // scheduled for a connection that is gone
    }
    const timer = setTimeout(() => {
      this.attachTimer = undefined;
      if (this.connection !== connection || this.closing) return;
      this.attachConsumers(connection).then(
        () => {
          if (this.consumeFailures > 0) this.log.info(`consuming ${EXECUTIONS_QUEUE} again`);
          this.consumeFailures = 0;
          this.consumerError = undefined;
          this.changed();
        },
        (error: Error) => {
          this.consumeFailures++;
          this.consumerError = error.message;
          this.log.error(
            `cannot consume from the broker (attempt ${this.consumeFailures}): ${error.message}; retrying in ${this.attachDelay() / 1000} s`,
          );
          this.changed();
          if (this.connection === connection) this.scheduleAttach(connection);
        },
      );
    }, this.attachDelay());
    timer.unref();
    this.attachTimer = { timer, connection };
  }

  private async reconnectLoop(): Promise<void> {
    for (let attempt = 0; !this.closing && !this.connected; attempt++) {
      try {
        await this.connect();
      } catch {
        // Short waits (a refused connection costs nothing): a broker that is starting or failing
        // over is usually back within seconds, and every 250 ms wasted shows in start-up time.
        await sleep(Math.min(50 * 2 ** attempt, 250));
      }
    }
  }

  private async attachConsumers(connection: amqp.ChannelModel): Promise<void> {
    const channels: amqp.Channel[] = [];
    try {
      for (const consumer of this.consumers) {
        const channel = await connection.createChannel();
        channels.push(channel);
        channel.on('error', () => {});
        channel.on('close', () => {
          // A consumer channel closed under a live connection (the broker cancelled it): attach again.
          if (this.connection !== connection || this.closing || !this.consuming) return;
          this.consuming = false;
          this.consumeFailures++;
          this.consumerError = 'the broker closed the consumer channel';
          this.changed();
          this.scheduleAttach(connection);
        });
        await channel.assertQueue(consumer.queue, { durable: true, arguments: this.queueArguments });
        await channel.prefetch(consumer.prefetch);
        await channel.consume(consumer.queue, (message) => {
          if (!message) return; // the queue was deleted; the next reconnect declares it again
          consumer.handler(message, channel).catch((error: Error) => {
            this.log.error(`message handler failed: ${error.message}`);
            try {
              channel.nack(message, false, true);
            } catch {
              // the channel is gone: the broker redelivers the message anyway
            }
          });
        });
      }
    } catch (error) {
      for (const channel of channels) await channel.close().catch(() => {});
      throw error;
    }
    this.consuming = true;
  }

  /** Registers a consumer, now and after every reconnect. */
  async consume(queue: string, prefetch: number, handler: Handler): Promise<void> {
    this.consumers.push({ queue, prefetch, handler });
    if (this.connection) this.scheduleAttach(this.connection);
  }

  /** Publishes a persistent message and waits for the broker's confirm. */
  async publish(queue: string, body: unknown): Promise<void> {
    if (!this.publisher) {
      await this.connect().catch(() => {});
      if (!this.publisher) throw unavailable('the message broker is unavailable; try again shortly');
    }
    const channel = this.publisher;
    try {
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(
          queue,
          Buffer.from(JSON.stringify(body)),
          { persistent: true, contentType: 'application/json' },
          (error) => (error ? reject(error) : resolve()),
        );
      });
    } catch (error) {
      throw unavailable(`the message broker did not confirm the message: ${(error as Error).message}`);
    }
  }

  /** Starts connecting in the background and keeps trying until connected. */
  start(): void {
    void this.reconnectLoop();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.attachTimer) clearTimeout(this.attachTimer.timer);
    await this.connection?.close().catch(() => {});
    this.connection = undefined;
    this.publisher = undefined;
  }
}

/** A declare the broker refused, in words that say what to do. */
function declareProblem(queue: string, type: string, error: Error): string {
  if (/PRECONDITION_FAILED/.test(error.message) && /x-queue-type/.test(error.message)) {
    return `queue ${queue} exists on the broker with another type than ${type} (${error.message}); set COSMO_MQ_QUEUE_TYPE to its type, or delete the queue once it is empty`;
  }
  return `cannot declare queue ${queue}: ${error.message}`;
}
