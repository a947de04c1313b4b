import { defineConfig } from 'vitest/config';

/**
 * `npm run test:unit`: the tests that need no MQTT broker, no model (TF.js) and no child
 * process, in seconds. test/unit/guard.ts makes that a rule, not a hope: a unit test that
 * spawns a process or connects to a broker fails with a message saying where it belongs.
 * Everything (these included) still runs in the full `npm test`.
 */
export const UNIT_TESTS = [
  'test/access/door.test.ts',
  'test/app/app-fakes.test.ts',
  'test/access/policy.test.ts',
  'test/access/rules.test.ts',
  'test/camera/latest-frame-slot.test.ts',
  'test/camera/webcam-source.test.ts',
  'test/cli/options.test.ts',
  'test/config/load.test.ts',
  'test/enrollment/verify.test.ts',
  'test/events-docs.test.ts',
  'test/gallery/*.test.ts',
  'test/gpio/chips.test.ts',
  'test/identity.test.ts',
  'test/mqtt/config.test.ts',
  'test/ops/http-server.test.ts',
  'test/pipeline/live-loop.test.ts',
  'test/pipeline/tracker.test.ts',
  'test/training/metrics.test.ts',
  'test/training/pairs.test.ts',
  'test/util/random.test.ts',
  'test/vision/pose.test.ts',
  'test/vision/preprocess.test.ts',
];

export default defineConfig({
  test: {
    include: UNIT_TESTS,
    setupFiles: ['test/unit/guard.ts'],
    testTimeout: 10_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
