/**
 * Installer's check of the door wiring with the configured drivers (run on the Pi, with
 * the daemon stopped so the lines are free):
 *
 *   npx tsx scripts/door-check.ts --config /etc/facegate/config.json [--watch 20]
 *
 * Locks the relay, prints the door contact and exit button, gives ONE unlock pulse of
 * door.pulseMs, then prints every input change for --watch seconds and locks again.
 * The mqtt relay is not supported here (it needs the broker client; use mosquitto_pub).
 */
import { Command } from 'commander';
import { loadConfig } from '../src/config/load.js';
import { createInput, createRelay } from '../src/gpio/factory.js';
import type { DigitalInput } from '../src/gpio/types.js';
import { systemClock } from '../src/util/clock.js';
import { createLogger } from '../src/util/log.js';

const program = new Command()
  .requiredOption('--config <file...>', 'config file(s), as for the daemon')
  .option('--watch <seconds>', 'how long to print input changes', '20')
  .parse(process.argv);
const opts = program.opts<{ config: string[]; watch: string }>();

const config = loadConfig({ files: opts.config, env: process.env });
const logger = createLogger('info');
if (config.door.relay.type === 'mqtt') {
  console.error('door-check: the mqtt relay is switched by the broker; test it with mosquitto_pub');
  process.exit(2);
}
const deps = { logger, clock: systemClock };
process.on('uncaughtException', (err) => {
  console.error(`door-check: ${err.message}`);
  process.exit(1);
});
const relay = await createRelay(config.door.relay, deps);
const inputs = [
  await createInput('door contact', config.door.contact, deps),
  await createInput('exit button', config.door.exitButton, deps),
].filter((i): i is DigitalInput => i !== null);

try {
  await relay.start();
  console.log(`relay ${relay.name} line ${config.door.relay.line} (${config.door.relay.chip}): locked`);
  for (const input of inputs) {
    await input.start();
    console.log(`${input.name}: ${input.read() ? 'ACTIVE' : 'inactive'}`);
    input.onChange((active) =>
      console.log(`${new Date().toISOString()} ${input.name}: ${active ? 'ACTIVE' : 'inactive'}`),
    );
  }
  console.log(`unlocking for ${config.door.pulseMs} ms ...`);
  await relay.unlock();
  await new Promise((r) => setTimeout(r, config.door.pulseMs));
  await relay.lock();
  console.log('locked again; watching inputs (open the door, press the button) ...');
  await new Promise((r) => setTimeout(r, Number(opts.watch) * 1000));
} finally {
  relay.lockSync();
  await relay.close();
  for (const input of inputs) await input.close();
}
console.log('done: relay locked');
