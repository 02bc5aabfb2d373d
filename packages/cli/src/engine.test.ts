import { describe, expect, it } from 'vitest';
import { dockerCliArgs, dockerFor, nodeAddress, tlsFromEnv } from './engine.ts';
import { UsageError } from './errors.ts';

describe('reaching a Docker engine', () => {
  it('refuses plain tcp to another host unless told, and names the ways that are safe', () => {
    const refused = () => dockerFor({ endpoint: 'tcp://10.0.0.5:2375' });
    expect(refused).toThrow(UsageError);
    expect(refused).toThrow(/in plain tcp.*DOCKER_TLS_VERIFY=1.*ssh:\/\/USER@HOST.*--insecure-engine/s);
    expect(() => dockerFor({ endpoint: 'tcp://10.0.0.5:2375' }, { insecure: true })).not.toThrow();
    // Loopback crosses no network.
    expect(() => dockerFor({ endpoint: 'tcp://127.0.0.1:2375' })).not.toThrow();
    expect(() => dockerFor({ endpoint: 'tcp://localhost' })).not.toThrow();
  });

  it('reads TLS files as the docker CLI does, and says which one is missing', () => {
    expect(tlsFromEnv({})).toBeUndefined();
    expect(tlsFromEnv({ DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: '/certs' })).toBeUndefined();
    const tls = tlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' })!;
    expect(tls).toEqual({ ca: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' });
    expect(() => dockerFor({ endpoint: 'tcp://10.0.0.5', tls })).toThrow(
      /the CA \/certs\/ca.pem cannot be read/,
    );
    expect(dockerCliArgs({ endpoint: 'tcp://m:2376', tls })).toEqual([
      '--host',
      'tcp://m:2376',
      '--tlsverify',
      '--tlscacert',
      '/certs/ca.pem',
      '--tlscert',
      '/certs/cert.pem',
      '--tlskey',
      '/certs/key.pem',
    ]);
  });

  it('reaches another node of the Swarm the way it reached the manager', () => {
    const tls = { ca: 'a', cert: 'b', key: 'c' };
    expect(nodeAddress({ endpoint: 'tcp://m:2376', tls }, '10.0.0.7')).toEqual({
      endpoint: 'tcp://10.0.0.7:2376',
      tls,
    });
    expect(nodeAddress({ endpoint: 'tcp://m', tls }, '10.0.0.7')?.endpoint).toBe('tcp://10.0.0.7:2376');
    expect(nodeAddress({ endpoint: 'ssh://ops@m' }, '10.0.0.7')).toEqual({ endpoint: 'ssh://ops@10.0.0.7' });
    expect(nodeAddress({ endpoint: 'unix:///var/run/docker.sock' }, '10.0.0.7')).toBeUndefined();
  });

  it('refuses an address it cannot reach, naming the forms it takes', () => {
    expect(() => dockerFor({ endpoint: 'http://m:2375' })).toThrow(
      /tcp:\/\/HOST:PORT \(with TLS\), ssh:\/\/USER@HOST or unix/,
    );
  });
});
