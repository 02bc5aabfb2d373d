/**
 * Secret values at rest: AES-256-GCM under a key derived (HKDF-SHA256) from the platform's secrets
 * key file, which lives with the platform's other secrets (a file given to the manager), never in the
 * database: a copy of the database alone reveals no value. Each value is bound to its tenant and key
 * (GCM's additional data), so a row copied under another name does not decrypt.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const FORMAT = 'v1';

export class SecretCipher {
  private readonly key: Buffer;

  constructor(material: string) {
    this.key = Buffer.from(hkdfSync('sha256', material, 'cosmo secrets', 'aes-256-gcm v1', 32));
  }

  /** `value` sealed for `context` (the secret's tenant and key): `v1:<iv>:<tag>:<ciphertext>`. */
  seal(value: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return [FORMAT, ...[iv, cipher.getAuthTag(), body].map((part) => part.toString('base64'))].join(':');
  }

  /** The value `seal` sealed for this context; throws when the key, the context or a byte differs. */
  open(sealed: string, context: string): string {
    const [format, iv, tag, body] = sealed.split(':');
    if (format !== FORMAT || !iv || !tag || body === undefined) {
      throw new Error('not a sealed secret value');
    }
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }
}

/** What a sealed value is bound to. */
export const secretContext = (tenant: string, key: string) => `${tenant}\0${key}`;
