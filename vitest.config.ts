import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['spec/**/*.test.ts'],
    // Real-socket tests share two cores with everything else; generous per-test bounds,
    // but every test still ends by itself.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
