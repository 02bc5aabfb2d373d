/**
 * The platform's CA and the certificates a plan needs (`Plan.tls`), issued with @peculiar/x509 over
 * Node's WebCrypto: ECDSA P-256 keys, PEM files, keys 0600. An existing CA or certificate is kept, so
 * `cosmo init --force` of a new mode reuses the CA clients already trust, and `cosmo generate` issues
 * only what a changed plan adds.
 */
import 'reflect-metadata';
import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CertificatePlan, TlsPlan } from '@cosmo/topology';
import * as x509 from '@peculiar/x509';

// Node's WebCrypto is the standard one; only its TypeScript types differ from the DOM's.
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;
/** A CA outlives many member certificates; a member certificate is renewed well within 2 years. */
const CA_DAYS = 3650;
const CERTIFICATE_DAYS = 730;

export interface Pem {
  cert: string;
  key: string;
}

const serial = () =>
  Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function createCa(commonName: string): Promise<Pem> {
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/** A server (and client) certificate for these names, signed by the CA. */
export async function issueCertificate(
  ca: Pem,
  names: { commonName: string; dnsNames: string[]; ipAddresses: string[] },
): Promise<Pem> {
  const caCert = new x509.X509Certificate(ca.cert);
  const caKey = await webcrypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(ca.key).export({ format: 'der', type: 'pkcs8' }),
    ALGORITHM,
    false,
    ['sign'],
  );
  const keys = await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${names.commonName}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CERTIFICATE_DAYS * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([
        x509.ExtendedKeyUsage.serverAuth,
        x509.ExtendedKeyUsage.clientAuth,
      ]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dnsNames.map((value) => ({ type: 'dns' as const, value })),
        ...names.ipAddresses.map((value) => ({ type: 'ip' as const, value })),
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem'), key: await keyPem(keys.privateKey) };
}

/**
 * Reads the operator's own CA (`cosmo init --ca-cert/--ca-key`) and checks it can sign what the
 * platform needs: a CA certificate, its key, ECDSA P-256 (what this version signs with), valid now.
 */
export async function readOperatorCa(files: { cert: string; key: string }): Promise<Pem> {
  const read = async (file: string, what: string) => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new Error(`${what} ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
  };
  const pem = { cert: await read(files.cert, '--ca-cert'), key: await read(files.key, '--ca-key') };
  let cert: X509Certificate;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    cert = new X509Certificate(pem.cert);
  } catch (error) {
    throw new Error(`--ca-cert ${files.cert} is not a PEM certificate (${(error as Error).message})`);
  }
  try {
    key = createPrivateKey(pem.key);
  } catch (error) {
    throw new Error(
      `--ca-key ${files.key} is not a PEM private key without a passphrase (${(error as Error).message})`,
    );
  }
  if (!cert.ca)
    throw new Error(`--ca-cert ${files.cert} is not a CA certificate (its basic constraints say CA:FALSE)`);
  if (!cert.checkPrivateKey(key))
    throw new Error(`--ca-key ${files.key} is not the key of --ca-cert ${files.cert}`);
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error(
      `--ca-key ${files.key}: the CA's key must be ECDSA P-256 (openssl ecparam -name prime256v1 -genkey), which this version signs with`,
    );
  }
  const now = Date.now();
  if (Date.parse(cert.validTo) < now || Date.parse(cert.validFrom) > now) {
    throw new Error(`--ca-cert ${files.cert} is not valid now (${cert.validFrom} to ${cert.validTo})`);
  }
  return pem;
}

/** The CAs a TLS plan has: the platform's, and etcd's own when it runs etcd. */
function authorities(
  tls: TlsPlan,
): { issuer: CertificatePlan['issuer']; pair: { cert: string; key: string } }[] {
  return [
    { issuer: 'ca' as const, pair: tls.ca },
    ...(tls.etcdCa ? [{ issuer: 'etcdCa' as const, pair: tls.etcdCa }] : []),
  ];
}

/** Every file a TLS plan writes (for the checks before anything is written). */
export function certificateFiles(tls: TlsPlan | undefined, configDir: string): string[] {
  if (!tls) return [];
  return [...authorities(tls).map(({ pair }) => pair), ...tls.certificates]
    .flatMap((pair) => [pair.cert, pair.key])
    .map((file) => path.resolve(configDir, file));
}

async function writePair(pair: { cert: string; key: string }, pem: Pem, configDir: string): Promise<void> {
  const cert = path.resolve(configDir, pair.cert);
  await mkdir(path.dirname(cert), { recursive: true, mode: 0o700 });
  // PEM files end with a newline: tools that join a certificate and its key (HAProxy's) rely on it.
  await writeFile(path.resolve(configDir, pair.key), withNewline(pem.key), { mode: 0o600 });
  await writeFile(cert, withNewline(pem.cert), { mode: 0o600 });
}

const withNewline = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

async function readPair(pair: { cert: string; key: string }, configDir: string): Promise<Pem> {
  return {
    cert: await readFile(path.resolve(configDir, pair.cert), 'utf8'),
    key: await readFile(path.resolve(configDir, pair.key), 'utf8'),
  };
}

const present = (pair: { cert: string; key: string }, configDir: string) =>
  existsSync(path.resolve(configDir, pair.cert)) && existsSync(path.resolve(configDir, pair.key));

/**
 * Makes the CA unless it exists (or takes the operator's, `ca`), then issues each certificate that is
 * missing (a new one for every certificate when `fresh`, as `cosmo init --force` does). etcd's CA is
 * always the platform's own: it must sign nothing but etcd's certificate. Returns the files written.
 */
export async function writeCertificates(
  tls: TlsPlan | undefined,
  configDir: string,
  options: { project: string; fresh: boolean; ca?: Pem },
): Promise<string[]> {
  if (!tls) return [];
  const written: string[] = [];
  const cas = new Map<CertificatePlan['issuer'], Pem>();
  for (const { issuer, pair } of authorities(tls)) {
    if (issuer === 'ca' && options.ca) {
      // The operator's CA: copied into the project, where `cosmo generate` finds it later.
      await writePair(pair, options.ca, configDir);
      written.push(pair.cert, pair.key);
      cas.set(issuer, options.ca);
    } else if (present(pair, configDir) && !options.fresh) cas.set(issuer, await readPair(pair, configDir));
    else {
      const ca = await createCa(`Cosmo ${options.project} ${issuer === 'etcdCa' ? 'etcd CA' : 'CA'}`);
      await writePair(pair, ca, configDir);
      written.push(pair.cert, pair.key);
      cas.set(issuer, ca);
    }
  }
  for (const certificate of tls.certificates) {
    if (present(certificate, configDir) && !options.fresh) continue;
    const ca = cas.get(certificate.issuer)!;
    await writePair(certificate, await issueCertificate(ca, certificateNames(certificate)), configDir);
    written.push(certificate.cert, certificate.key);
  }
  return written.map((file) => path.resolve(configDir, file));
}

const certificateNames = (plan: CertificatePlan) => ({
  commonName: plan.dnsNames[0] ?? plan.ipAddresses[0] ?? 'cosmo',
  dnsNames: plan.dnsNames,
  ipAddresses: plan.ipAddresses,
});
