/** What the auth hook attaches to a request: the caller and the tenant it acts in. */
import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../auth/auth.ts';

export interface Caller {
  principal: Principal;
  tenant: string;
}

export function caller(request: FastifyRequest): Caller {
  const r = request as FastifyRequest & Partial<Caller>;
  return { principal: r.principal!, tenant: r.tenant! };
}
