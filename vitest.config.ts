import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time: most of the suite waits on child processes, brokers and browsers,
    // and one file at a time took ~15 min on 2 cores. Every test is written for a busy machine.
    maxWorkers: 2,
    // Processes the tests start (`node bin/sluice.js ...`) run Sluice from src/ through tsx, so
    // they test the code as it is, built or not; test/package.test.ts tests the compiled package.
    env: { NODE_OPTIONS: [process.env.NODE_OPTIONS, '--conditions=sluice-source'].filter(Boolean).join(' ') },
  },
})
