import { defineConfig } from 'vitest/config';

// Two projects: `unit` needs nothing but Node; `integration` needs a Docker engine and the images.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          // Containers compete for two cores: run integration files one at a time.
          fileParallelism: false,
          // Every image rebuilt first where its inputs changed: never a test against a stale image.
          globalSetup: ['test/support/images.ts'],
          // The engine is this machine's (scripts/setup starts it): its published ports are on loopback,
          // which every certificate names. Left alone, testcontainers would pick the bridge's gateway
          // when it finds itself in a container.
          env: { TESTCONTAINERS_RYUK_DISABLED: 'true', TESTCONTAINERS_HOST_OVERRIDE: 'localhost' },
        },
      },
    ],
  },
});
