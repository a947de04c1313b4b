import type { GpioLineConfig, InputConfig, RelayConfig } from './config.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { GpiodInput, GpiodRelay, systemCommandRunner, type CommandRunner } from './gpiod.js';
import { MqttRelay } from './mqtt-relay.js';
import { loadOnoff, OnoffInput, OnoffRelay, type OnoffGpioFactory } from './onoff.js';
import { SimulatedInput, SimulatedRelay } from './simulated.js';
import type { DigitalInput, Relay, RelayPublisher } from './types.js';

export interface GpioDeps {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Needed by the mqtt relay (app.ts adapts the MQTT client). */
  readonly publisher?: RelayPublisher;
  /** For tests: the tools runner of the gpiod drivers. */
  readonly commandRunner?: CommandRunner;
  /** For tests: onoff's Gpio constructor (default: the optional onoff package). */
  readonly onoffFactory?: OnoffGpioFactory;
  /** For tests: where sysfs GPIO lives (default /sys/class/gpio). */
  readonly sysfsRoot?: string;
}

/** Builds the relay driver named by `door.relay.type` (not yet started). */
export async function createRelay(config: RelayConfig, deps: GpioDeps): Promise<Relay> {
  switch (config.type) {
    case 'simulated':
      return new SimulatedRelay(deps.logger, deps.clock);
    case 'onoff':
      return new OnoffRelay(line(config, deps), deps.onoffFactory ?? (await loadOnoff()), deps.logger);
    case 'gpiod':
      return new GpiodRelay(line(config, deps), deps.commandRunner ?? systemCommandRunner, deps.logger);
    case 'mqtt':
      if (!deps.publisher) throw new Error('the mqtt relay needs an MQTT publisher');
      return new MqttRelay(config, deps.publisher, deps.logger);
  }
}

/** Builds a door input (`door.contact`, `door.exitButton`); null for type "none". */
export async function createInput(
  name: string,
  config: InputConfig,
  deps: GpioDeps,
): Promise<DigitalInput | null> {
  switch (config.type) {
    case 'none':
      return null;
    case 'simulated':
      return new SimulatedInput(name);
    case 'onoff':
      return new OnoffInput(name, line(config, deps), deps.onoffFactory ?? (await loadOnoff()), deps.logger);
    case 'gpiod':
      return new GpiodInput(name, line(config, deps), deps.commandRunner ?? systemCommandRunner, deps.logger);
  }
}

function line(config: GpioLineConfig, deps: GpioDeps) {
  return { chip: config.chip, line: config.line, activeLow: config.activeLow, sysfsRoot: deps.sysfsRoot };
}
