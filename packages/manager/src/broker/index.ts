/** The message broker: one connection, publishers with confirms, consumers that come back. */
export * from './client.ts';
