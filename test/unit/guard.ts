import { vi } from 'vitest';

/**
 * Setup file of `npm run test:unit` (vitest.unit.config.ts): unit tests run without a
 * broker and without child processes. Anything that tries fails loudly here, naming the
 * rule, instead of hanging or passing by accident on a machine that has Mosquitto.
 */
function refuse(what: string): never {
  throw new Error(
    `${what} in a unit test: move this test out of UNIT_TESTS (vitest.unit.config.ts); it runs in the full npm test`,
  );
}

vi.mock('node:child_process', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:child_process')>();
  const no = (name: string) => () => refuse(`child_process.${name}`);
  return {
    ...real,
    spawn: no('spawn'),
    spawnSync: no('spawnSync'),
    exec: no('exec'),
    execSync: no('execSync'),
    execFile: no('execFile'),
    execFileSync: no('execFileSync'),
    fork: no('fork'),
  };
});

vi.mock('mqtt', async (importOriginal) => {
  const real = await importOriginal<typeof import('mqtt')>();
  const no = () => refuse('an MQTT connection');
  return {
    ...real,
    default: { ...real.default, connect: no, connectAsync: no },
    connect: no,
    connectAsync: no,
  };
});
