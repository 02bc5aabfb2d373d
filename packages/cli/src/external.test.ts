import { describe, expect, it } from 'vitest';
import { externalDbFromUrl, externalQueueFromUrl } from './external.ts';

describe('--external-db and --external-queue', () => {
  it('reads a PostgreSQL URL with libpq names for TLS', () => {
    expect(
      externalDbFromUrl('postgresql://app@10.1.2.3:6432/platform?sslmode=verify-full&sslrootcert=ca.pem'),
    ).toEqual({
      host: '10.1.2.3',
      port: 6432,
      database: 'platform',
      user: 'app',
      password_file: 'secrets/external_db_password',
      sslmode: 'verify-full',
      ca_file: 'ca.pem',
    });
    expect(externalDbFromUrl('postgres://db.example')).toEqual({
      host: 'db.example',
      password_file: 'secrets/external_db_password',
    });
  });

  it('reads a RabbitMQ URL with several hosts', () => {
    expect(externalQueueFromUrl('amqps://app@mq1:5671,mq2:5671/cosmo?cacertfile=ca.pem')).toEqual({
      hosts: ['mq1:5671', 'mq2:5671'],
      user: 'app',
      password_file: 'secrets/external_queue_password',
      vhost: 'cosmo',
      tls: true,
      ca_file: 'ca.pem',
    });
    expect(externalQueueFromUrl('amqp://mq')).toMatchObject({ hosts: ['mq'], tls: false });
  });

  it.each([
    [() => externalDbFromUrl('postgresql://app:secret@db/x'), 'it holds a password'],
    [() => externalDbFromUrl('mysql://db/x'), 'scheme mysql: is not postgresql:'],
    [() => externalDbFromUrl('db.example'), 'not a URL'],
    [() => externalDbFromUrl('postgresql://db/x?passfile=p'), 'unknown parameter passfile'],
    [() => externalQueueFromUrl('amqp://app:secret@mq'), 'it holds a password'],
    [() => externalQueueFromUrl('http://mq'), 'not an amqp:// or amqps:// URL'],
    [() => externalQueueFromUrl('amqp://mq?cacertfile=ca.pem'), 'cacertfile needs amqps://'],
  ])('refuses a bad URL with the form to use (%#)', (parse, message) => {
    expect(parse).toThrow(message);
    expect(parse).toThrow('the password goes in a file, not the URL');
  });
});
