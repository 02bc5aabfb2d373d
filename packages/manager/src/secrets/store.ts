/**
 * Secrets in PostgreSQL, sealed (cipher.ts). A secret belongs to a tenant; `global` visibility makes
 * it readable from every tenant, where a tenant's own secret of the same key wins. A hidden value
 * (`is_hidden_value`) is shown to its creator and administrators only; to anyone else it reads ''.
 */
import { ApiError } from '../api/errors.ts';
import type { Principal } from '../auth/auth.ts';
import { FunctionError } from '../blueprints/functions.ts';
import type { Database } from '../storage/db.ts';
import { SecretCipher, secretContext } from './cipher.ts';

export const VISIBILITIES = ['private', 'tenant', 'global'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

export interface SecretRow {
  tenant: string;
  key: string;
  /** Sealed: never the value itself. */
  value: string;
  is_hidden_value: boolean;
  visibility: Visibility;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

/** A secret as the API shows it: Cloudify's fields, the value only where it may be read. */
export const secretItem = (row: SecretRow, value?: string) => ({
  key: row.key,
  ...(value !== undefined ? { value } : {}),
  is_hidden_value: row.is_hidden_value,
  visibility: row.visibility,
  tenant_name: row.tenant,
  created_by: row.created_by,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
  resource_availability: row.visibility,
  private_resource: row.visibility === 'private',
});

/** Who may read a hidden value, change a hidden secret or see a private one: its creator and admins. */
export const mayReveal = (principal: Pick<Principal, 'username' | 'role'>, row: SecretRow) =>
  principal.role === 'sys_admin' || principal.username === row.created_by;

export class Secrets {
  private readonly db: Database;
  private readonly cipher: SecretCipher | undefined;

  /** `keyMaterial`: the secrets key file's content; without it secrets cannot be stored or read. */
  constructor(db: Database, keyMaterial: string | undefined) {
    this.db = db;
    this.cipher = keyMaterial ? new SecretCipher(keyMaterial) : undefined;
  }

  private need(): SecretCipher {
    if (!this.cipher) {
      throw new ApiError(
        503,
        'service_unavailable_error',
        'this manager has no secrets key: give it one as a file with COSMO_SECRETS_KEY_FILE (cosmo init and cosmo generate write secrets/secrets_key)',
      );
    }
    return this.cipher;
  }

  seal(tenant: string, key: string, value: string): string {
    return this.need().seal(value, secretContext(tenant, key));
  }

  /** The value in clear; a 500 naming the secret when this manager's key cannot open it. */
  open(row: SecretRow): string {
    try {
      return this.need().open(row.value, secretContext(row.tenant, row.key));
    } catch (error) {
      if (error instanceof ApiError) throw error;
      throw new ApiError(
        500,
        'internal_server_error',
        `secret '${row.key}' cannot be decrypted with this manager's secrets key (was COSMO_SECRETS_KEY_FILE changed?): set it again`,
      );
    }
  }

  /** The secret `key` as seen from `tenant`: its own, else a global one. */
  async find(tenant: string, key: string): Promise<SecretRow | undefined> {
    const { rows } = await this.db.read<SecretRow>(
      `SELECT * FROM secrets WHERE key = $2 AND (tenant = $1 OR visibility = 'global')
       ORDER BY tenant = $1 DESC LIMIT 1`,
      [tenant, key],
    );
    return rows[0];
  }

  /**
   * The values of `keys` as seen from `tenant`, for a blueprint's get_secret: each opened when first
   * asked for. A key with no secret is named in the error when it is asked for.
   */
  async reader(tenant: string, keys: readonly string[]): Promise<(key: string) => string> {
    if (keys.length === 0) return (key) => missing(key);
    const { rows } = await this.db.read<SecretRow>(
      `SELECT DISTINCT ON (key) * FROM secrets
       WHERE key = ANY($2) AND (tenant = $1 OR visibility = 'global')
       ORDER BY key, tenant = $1 DESC`,
      [tenant, keys],
    );
    const found = new Map(rows.map((row) => [row.key, row]));
    const opened = new Map<string, string>();
    return (key) => {
      const row = found.get(key);
      if (!row) return missing(key);
      if (!opened.has(key)) opened.set(key, this.open(row));
      return opened.get(key)!;
    };
  }
}

function missing(key: string): never {
  throw new FunctionError(
    `get_secret: there is no secret '${key}' (create it: PUT /secrets/${key} or cfy secrets create)`,
  );
}
