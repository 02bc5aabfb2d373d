/**
 * TLS: the certificates a plan needs, issued from the platform's CA (`secrets/ca.crt`, its key beside
 * it), and the names each one carries. The plan only says what to issue; the CLI issues it (cosmo
 * init), and a bare All-in-One issues its own in its volume. The API's certificate is what clients
 * check (the All-in-One, or the load balancers of a cluster); the managers' is what the load
 * balancers check behind them, by the name `manager` every manager answers to; the members' is what
 * the managers check when they reach PostgreSQL and RabbitMQ (verify-full, amqps), and what the
 * database members check of each other when they replicate.
 */
import type { CosmoConfig } from './config.ts';
import { SECRET_FILES } from './plan.ts';

export interface CertificatePlan {
  /** What it is for, in messages. */
  purpose: string;
  /** The certificate and its key, relative to cosmo.yaml's folder. */
  cert: string;
  key: string;
  dnsNames: string[];
  ipAddresses: string[];
  /** The CA that signs it: the platform's (`ca`), or etcd's own (`etcdCa`). */
  issuer: 'ca' | 'etcdCa';
}

export interface TlsPlan {
  /** The CA: its certificate is given to whoever checks; its key never leaves the operator's folder. */
  ca: { cert: string; key: string };
  /**
   * etcd's own CA (when the cluster runs its database): etcd lets in any client whose certificate
   * its CA signed, so that CA signs only the certificate the database members share.
   */
  etcdCa?: { cert: string; key: string };
  certificates: CertificatePlan[];
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Names and addresses, split as a certificate's subjectAltName lists them, without repeats. */
export function altNames(names: readonly string[]): { dnsNames: string[]; ipAddresses: string[] } {
  const unique = [...new Set(names.filter((name) => name !== '' && name !== '0.0.0.0'))];
  return {
    dnsNames: unique.filter((name) => !IPV4.test(name)),
    ipAddresses: unique.filter((name) => IPV4.test(name)),
  };
}

/** The names clients reach the API by: loopback, the published address, the operator's public names. */
export function apiNames(config: CosmoConfig, bind: string, services: readonly string[]): string[] {
  return ['localhost', '127.0.0.1', bind, ...config.publicNames, ...services];
}

/**
 * What a mode issues (with TLS on): the API's certificate; in a cluster, the managers' behind the
 * load balancers and, when the cluster runs its own database or queue, one certificate its members
 * share, carrying every member's host name (the name the managers and the other members use).
 */
export function tlsPlan(
  config: CosmoConfig,
  api: readonly string[],
  managers?: readonly string[],
  members: readonly string[] = [],
  etcdMembers: readonly string[] = [],
): TlsPlan {
  const dir = config.credentials.dir;
  const certificate = (
    purpose: string,
    cert: string,
    key: string,
    names: readonly string[],
    issuer: CertificatePlan['issuer'] = 'ca',
  ) => ({ purpose, cert: `${dir}/${cert}`, key: `${dir}/${key}`, ...altNames(names), issuer });
  return {
    ca: { cert: `${dir}/${SECRET_FILES.ca}`, key: `${dir}/ca.key` },
    ...(etcdMembers.length > 0
      ? { etcdCa: { cert: `${dir}/${SECRET_FILES.etcdCa}`, key: `${dir}/etcd-ca.key` } }
      : {}),
    certificates: [
      certificate('the API', SECRET_FILES.apiCert, SECRET_FILES.apiKey, api),
      ...(managers
        ? [
            certificate(
              'the managers behind the load balancer',
              SECRET_FILES.managerCert,
              SECRET_FILES.managerKey,
              ['manager', 'localhost', '127.0.0.1', ...managers],
            ),
          ]
        : []),
      ...(members.length > 0
        ? [
            certificate('the database and queue members', SECRET_FILES.memberCert, SECRET_FILES.memberKey, [
              ...members,
              'localhost',
              '127.0.0.1',
            ]),
          ]
        : []),
      // etcd's server, peer and client certificate in one: members reach each other's etcd, and
      // Patroni its own, by host name or loopback.
      ...(etcdMembers.length > 0
        ? [
            certificate(
              "etcd's members and their Patroni",
              SECRET_FILES.etcdCert,
              SECRET_FILES.etcdKey,
              [...etcdMembers, 'localhost', '127.0.0.1'],
              'etcdCa',
            ),
          ]
        : []),
    ],
  };
}
