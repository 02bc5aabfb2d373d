/** Authentication: users, passwords, tokens and the login throttle. */
export * from './auth.ts';
export * from './passwords.ts';
export * from './users.ts';
