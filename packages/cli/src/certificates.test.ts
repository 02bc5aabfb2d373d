import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TlsPlan } from '@cosmo/topology';
import { afterAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate, type Pem, readOperatorCa, writeCertificates } from './certificates.ts';

/** A TLS handshake against a real server holding `server`, checked against `ca` for `name`. */
async function handshake(server: Pem, ca: string, name: string): Promise<string> {
  const listener = https.createServer({ cert: server.cert, key: server.key }, (_q, r) => r.end('ok'));
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as AddressInfo).port;
  try {
    return await new Promise<string>((resolve) => {
      https
        .get({ host: '127.0.0.1', port, ca, servername: name, path: '/' }, (response) => {
          response.resume();
          resolve(`answered ${response.statusCode}`);
        })
        .on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
  } finally {
    listener.close();
  }
}

describe('certificates', async () => {
  const ca = await createCa('Cosmo test CA');
  const other = await createCa('Another CA');
  const lb = await issueCertificate(ca, {
    commonName: 'lb',
    dnsNames: ['lb', 'localhost'],
    ipAddresses: ['127.0.0.1'],
  });

  it('issues a CA and a certificate it signs, for the names given', () => {
    const caCert = new X509Certificate(ca.cert);
    const cert = new X509Certificate(lb.cert);
    expect(caCert.ca).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.verify(new X509Certificate(other.cert).publicKey)).toBe(false);
    expect(cert.checkHost('lb')).toBe('lb');
    expect(cert.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(cert.checkHost('manager')).toBeUndefined();
  });

  it('passes a real handshake only with its CA and one of its names', async () => {
    expect(await handshake(lb, ca.cert, 'lb')).toBe('answered 200');
    expect(await handshake(lb, other.cert, 'lb')).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await handshake(lb, ca.cert, 'db1')).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  describe('writeCertificates', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-certs-'));
    afterAll(() => rm(dir, { recursive: true, force: true }));
    const plan: TlsPlan = {
      ca: { cert: 'secrets/ca.crt', key: 'secrets/ca.key' },
      certificates: [
        {
          purpose: 'the API',
          cert: 'secrets/api.crt',
          key: 'secrets/api.key',
          dnsNames: ['lb'],
          ipAddresses: [],
          issuer: 'ca',
        },
      ],
    };

    it('writes keys readable by their owner only, and keeps what exists unless fresh', async () => {
      const first = await writeCertificates(plan, dir, { project: 'lab', fresh: true });
      expect(first.map((file) => path.basename(file))).toEqual(['ca.crt', 'ca.key', 'api.crt', 'api.key']);
      expect((await stat(path.join(dir, 'secrets/ca.key'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(dir, 'secrets/api.key'))).mode & 0o777).toBe(0o600);
      const caBefore = await readFile(path.join(dir, 'secrets/ca.crt'), 'utf8');
      // A certificate the plan adds later is issued from the same CA; nothing else is rewritten.
      const grown: TlsPlan = {
        ...plan,
        certificates: [
          ...plan.certificates,
          {
            purpose: 'x',
            cert: 'secrets/m.crt',
            key: 'secrets/m.key',
            dnsNames: ['manager'],
            ipAddresses: [],
            issuer: 'ca',
          },
        ],
      };
      const second = await writeCertificates(grown, dir, { project: 'lab', fresh: false });
      expect(second.map((file) => path.basename(file))).toEqual(['m.crt', 'm.key']);
      expect(await readFile(path.join(dir, 'secrets/ca.crt'), 'utf8')).toBe(caBefore);
      const added = new X509Certificate(await readFile(path.join(dir, 'secrets/m.crt')));
      expect(added.verify(new X509Certificate(caBefore).publicKey)).toBe(true);
    });

    it("signs etcd's certificate with etcd's own CA, never the platform's", async () => {
      const etcdDir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-certs-etcd-'));
      try {
        const withEtcd: TlsPlan = {
          ...plan,
          etcdCa: { cert: 'secrets/etcd-ca.crt', key: 'secrets/etcd-ca.key' },
          certificates: [
            ...plan.certificates,
            {
              purpose: 'etcd',
              cert: 'secrets/etcd.crt',
              key: 'secrets/etcd.key',
              dnsNames: ['db1'],
              ipAddresses: [],
              issuer: 'etcdCa',
            },
          ],
        };
        await writeCertificates(withEtcd, etcdDir, { project: 'lab', fresh: true });
        const read = async (file: string) =>
          new X509Certificate(await readFile(path.join(etcdDir, 'secrets', file)));
        const etcdCa = await read('etcd-ca.crt');
        const etcd = await read('etcd.crt');
        expect(etcd.verify(etcdCa.publicKey)).toBe(true);
        expect(etcd.verify((await read('ca.crt')).publicKey)).toBe(false);
        // What the platform's CA signed (the API's certificate) is no etcd client.
        expect((await read('api.crt')).verify(etcdCa.publicKey)).toBe(false);
        expect(etcdCa.subject).toContain('etcd CA');
      } finally {
        await rm(etcdDir, { recursive: true, force: true });
      }
    });
  });

  describe("the operator's own CA (cosmo init --ca-cert/--ca-key)", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cosmo-own-ca-'));
    afterAll(() => rm(dir, { recursive: true, force: true }));
    const file = async (name: string, text: string) => {
      await writeFile(path.join(dir, name), text);
      return path.join(dir, name);
    };

    it("signs the platform's certificates with it, and copies it into the project", async () => {
      const own = await createCa('Operations CA');
      const pem = await readOperatorCa({
        cert: await file('own.crt', own.cert),
        key: await file('own.key', own.key),
      });
      const project = path.join(dir, 'project');
      const plan: TlsPlan = {
        ca: { cert: 'secrets/ca.crt', key: 'secrets/ca.key' },
        certificates: [
          {
            purpose: 'api',
            cert: 'secrets/api.crt',
            key: 'secrets/api.key',
            dnsNames: ['lb'],
            ipAddresses: [],
            issuer: 'ca',
          },
        ],
      };
      await writeCertificates(plan, project, { project: 'lab', fresh: true, ca: pem });
      expect(await readFile(path.join(project, 'secrets/ca.crt'), 'utf8')).toBe(
        own.cert.endsWith('\n') ? own.cert : `${own.cert}\n`,
      );
      const api = new X509Certificate(await readFile(path.join(project, 'secrets/api.crt')));
      expect(api.verify(new X509Certificate(own.cert).publicKey)).toBe(true);
    });

    it('refuses what cannot be a CA, a key that is not its own, and a key it cannot sign with, naming the file', async () => {
      const own = await createCa('Operations CA');
      const leaf = await issueCertificate(own, { commonName: 'x', dnsNames: ['x'], ipAddresses: [] });
      const other = await createCa('Other CA');
      const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
        type: 'pkcs8',
        format: 'pem',
      });
      const ownCert = await file('own2.crt', own.cert);
      await expect(
        readOperatorCa({ cert: await file('leaf.crt', leaf.cert), key: await file('leaf.key', leaf.key) }),
      ).rejects.toThrow(/is not a CA certificate/);
      await expect(
        readOperatorCa({ cert: ownCert, key: await file('other.key', other.key) }),
      ).rejects.toThrow(/is not the key of --ca-cert/);
      await expect(
        readOperatorCa({ cert: ownCert, key: await file('rsa.key', rsa.toString()) }),
      ).rejects.toThrow(/is not the key of/);
      // A CA with an RSA key: a real CA, but not one this version signs with.
      execFileSync(
        'openssl',
        [
          ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=RSA CA', '-days', '1'],
          ...['-addext', 'basicConstraints=critical,CA:TRUE'],
          ...['-keyout', path.join(dir, 'rsa-ca.key'), '-out', path.join(dir, 'rsa-ca.crt')],
        ],
        { stdio: 'ignore' },
      );
      await expect(
        readOperatorCa({ cert: path.join(dir, 'rsa-ca.crt'), key: path.join(dir, 'rsa-ca.key') }),
      ).rejects.toThrow(/must be ECDSA P-256/);
      await expect(readOperatorCa({ cert: path.join(dir, 'missing.crt'), key: ownCert })).rejects.toThrow(
        /--ca-cert .*missing.crt cannot be read \(ENOENT\)/,
      );
      await expect(readOperatorCa({ cert: ownCert, key: ownCert })).rejects.toThrow(
        /is not a PEM private key/,
      );
    });
  });
});
