/** Request bodies and path ids checked with zod; a failure is a 400 that names the field. */
import { z } from 'zod';
import { badParameters } from './errors.ts';

export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badParameters('the request body must be a JSON object');
  }
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.map(String).join('.') || 'body';
    throw badParameters(`${field}: ${issue.message}`);
  }
  return result.data;
}

/** Cloudify's REST client sends its flags as the strings "true"/"false", and null for what it leaves out. */
export const flag = z.preprocess(
  (value) => (value === 'true' ? true : value === 'false' ? false : value === null ? undefined : value),
  z.boolean().optional(),
);

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;

/** Resource ids as Cloudify allows them: letters, digits, '.', '_' and '-', up to 256 characters. */
export function checkId(kind: string, id: string): string {
  if (!ID.test(id)) {
    throw badParameters(
      `${kind} id '${id.slice(0, 80)}' is invalid: use letters, digits, '.', '_' and '-' (at most 256)`,
    );
  }
  return id;
}
