/** Workflows: the steps of each workflow and the worker that runs them. */
export * from './worker.ts';
export * from './workflow.ts';
