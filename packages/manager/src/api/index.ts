/** The REST API: server, routes, error format, listing and request bounds. */
export * from './bounds.ts';
export * from './errors.ts';
export * from './listing.ts';
export * from './maintenance.ts';
export * from './resources.ts';
export * from './server.ts';
export * from './validate.ts';
