/** @cosmo/wait: polling until something is true, retrying what fails, and time limits on a promise. */
export { sleep, WaitTimeout, waitFor, withTimeout } from './wait.ts';
