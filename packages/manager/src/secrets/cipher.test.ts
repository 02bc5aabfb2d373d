import { describe, expect, it } from 'vitest';
import { SecretCipher, secretContext } from './cipher.ts';

describe('SecretCipher', () => {
  const cipher = new SecretCipher('a-secrets-key-file-of-32-chars-xx');
  const context = secretContext('default_tenant', 'db_password');

  it('seals a value so that neither it nor its length in clear is stored, and opens it again', () => {
    const sealed = cipher.seal('hunter2-is-the-value', context);
    expect(sealed).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    expect(sealed).not.toContain('hunter2');
    expect(cipher.seal('hunter2-is-the-value', context)).not.toBe(sealed); // a fresh IV each time
    expect(cipher.open(sealed, context)).toBe('hunter2-is-the-value');
  });

  it('refuses another key, another tenant or name, and a changed byte', () => {
    const sealed = cipher.seal('value', context);
    expect(() => new SecretCipher('another-key').open(sealed, context)).toThrow();
    expect(() => cipher.open(sealed, secretContext('other_tenant', 'db_password'))).toThrow();
    expect(() => cipher.open(sealed, secretContext('default_tenant', 'other'))).toThrow();
    const [format, iv, tag, body] = sealed.split(':');
    const flipped = Buffer.from(body!, 'base64');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => cipher.open([format, iv, tag, flipped.toString('base64')].join(':'), context)).toThrow();
    expect(() => cipher.open('plain text', context)).toThrow(/not a sealed secret value/);
  });
});
