/** Secrets: values sealed at rest with the platform's key, read by blueprints through get_secret. */
export * from './cipher.ts';
export * from './redact.ts';
export * from './store.ts';
