/**
 * A Cloudify user's first hour, as Cloudify's own command-line client (`cfy`) makes it: the requests
 * below are the ones cloudify-rest-client sends for `cfy blueprints upload`, `deployments create`,
 * `executions start` (with its event tailing), `deployments outputs`, `executions list`, `uninstall`
 * and the deletes — methods, paths, query strings, the headers it sets on every request
 * (`Content-Type: application/json` even without a body, `Tenant`), multipart uploads and its
 * string booleans — and each answer is read the way the client reads it. Cloudify's client cannot
 * be installed here (not in Debian's archive nor on npm), so this test is written from its sources.
 */
import type { StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe } from 'vitest';
import { adminClient, removeVolume, startAio } from './support/aio.ts';
import { cfyFlow } from './support/cfy.ts';

describe("Cloudify's client against the All-in-One", () => {
  const volume = `cosmo-itest-cfy-${process.pid}`;
  let container: StartedTestContainer;
  let target: { url: string; password: string };

  beforeAll(async () => {
    container = await startAio(volume);
    const { password, url } = await adminClient(container);
    target = { url, password };
  });

  afterAll(async () => {
    await container?.stop();
    await removeVolume(volume);
  });

  cfyFlow(() => target);
});
