import { EVENT_TYPES } from '../events.js';
import type { Logger } from '../util/log.js';
import type { MqttConfig } from './config.js';
import type { MessageHandler, PublishOptions } from './connection.js';
import type { Topics } from './topics.js';

/** Every event type, for the Home Assistant event entity (defined beside the union in src/events.ts). */
export { EVENT_TYPES };

export type HomeAssistantCommand = 'unlock' | 'lock';

export interface DiscoveryTransport {
  readonly connected: boolean;
  readonly topics: Pick<Topics, 'base' | 'availability' | 'state' | 'events'>;
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
  subscribe(filter: string, handler: MessageHandler, qos?: 0 | 1): () => void;
  onConnect(listener: () => void): () => void;
}

export interface DiscoveryOptions {
  transport: DiscoveryTransport;
  deviceId: string;
  config: MqttConfig['homeAssistant'];
  /** facegate version, shown in Home Assistant's device page. */
  softwareVersion: string;
  /** Whether the door has a contact input (adds a door binary sensor). */
  hasDoorContact: boolean;
  /**
   * Lock commands from Home Assistant; only subscribed when `allowUnlock` is on. The app
   * wires this to `door.unlock('home_assistant')` / `door.lock()`.
   */
  onCommand?: (command: HomeAssistantCommand) => void;
  logger: Logger;
  /** Wait this long (randomised up to it) before re-sending on `homeassistant/status online`, so a fleet does not answer at once. */
  resendJitterMs?: number;
}

export interface DiscoveryMessage {
  topic: string;
  /** JSON config, or '' to delete an entity Home Assistant may still have from an earlier configuration. */
  payload: string;
}

/**
 * Home Assistant MQTT discovery: retained configs under `<prefix>/<component>/facegate_<id>/<object>/config`
 * for the lock, the access event, diagnostic sensors and MQTT connectivity, all in one
 * device, with the availability topic. Sent on the first connect, again on a connect only
 * when the configs changed, and when Home Assistant announces itself on `<prefix>/status` =
 * `online`. They are retained, so a reconnect (e.g. two doors taking one session from each
 * other) needs no new copy: re-sending on every connect made a storm of retained writes.
 */
export class HomeAssistantDiscovery {
  private readonly opts: DiscoveryOptions;
  private readonly log: Logger;
  private readonly unsubscribers: (() => void)[] = [];
  private resendTimer: NodeJS.Timeout | null = null;
  /** The configs as last handed to the broker (null: not yet in this process). */
  private lastSent: string | null = null;
  private sends = 0;

  constructor(options: DiscoveryOptions) {
    this.opts = options;
    this.log = options.logger.child({ module: 'ha-discovery' });
  }

  /** The lock command topic (subscribed only when unlock from Home Assistant is allowed). */
  get commandTopic(): string {
    return `${this.opts.transport.topics.base}/ha/lock/set`;
  }

  start(): void {
    if (!this.opts.config.enabled || this.unsubscribers.length > 0) return;
    const { transport, config } = this.opts;
    this.unsubscribers.push(transport.onConnect(() => this.publishIfChanged()));
    this.unsubscribers.push(
      transport.subscribe(`${config.prefix}/status`, (_topic, payload, packet) => {
        // A retained "online" arrives on every subscribe; the connect handler has just sent everything.
        if (packet.retain || payload.toString('utf8').trim() !== 'online') return;
        this.log.info('Home Assistant came online; re-sending discovery');
        this.scheduleResend();
      }),
    );
    if (config.allowUnlock) {
      // A lock command's moment passes: subscribed at QoS 0, so a broker does not queue it in
      // our persistent session while the door is away (Mosquitto keeps no QoS 0 messages
      // for offline clients unless queue_qos0_messages is set), and a retained one (every
      // subscribe would deliver it again) is never carried out.
      this.unsubscribers.push(
        transport.subscribe(
          this.commandTopic,
          (_topic, payload, packet) => {
            if (packet.retain) {
              this.log.warn(
                'ignoring a retained Home Assistant lock command (it would replay on every connect)',
              );
              return;
            }
            this.onCommand(payload);
          },
          0,
        ),
      );
    }
    // Otherwise the connect listener sends them (mqtt.js would only queue them in memory).
    if (transport.connected) this.publishIfChanged();
  }

  /** How often the whole set of configs was sent since start (tests, health). */
  get sendCount(): number {
    return this.sends;
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribers.splice(0)) unsubscribe();
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = null;
  }

  /** Every discovery message for the current configuration, deletions included. */
  messages(): DiscoveryMessage[] {
    const { deviceId, config, transport, softwareVersion } = this.opts;
    const { topics } = transport;
    const node = `facegate_${deviceId}`;
    const configTopic = (component: string, object: string) =>
      `${config.prefix}/${component}/${node}/${object}/config`;
    const device = {
      identifiers: [node],
      name: config.deviceName || `Facegate ${deviceId}`,
      manufacturer: 'facegate',
      model: 'Face recognition door',
      sw_version: softwareVersion,
    };
    const common = (object: string, name: string) => ({
      name,
      unique_id: `${node}_${object}`,
      device,
      origin: { name: 'facegate', sw_version: softwareVersion },
      availability_topic: topics.availability,
      payload_available: 'online',
      payload_not_available: 'offline',
    });
    const json = (value: object) => JSON.stringify(value);
    const out: DiscoveryMessage[] = [];

    const lockedTemplate = "{{ 'LOCKED' if value_json.door.locked else 'UNLOCKED' }}";
    if (config.allowUnlock) {
      out.push({
        topic: configTopic('lock', 'lock'),
        payload: json({
          ...common('lock', 'Door lock'),
          state_topic: topics.state,
          value_template: lockedTemplate,
          command_topic: this.commandTopic,
          payload_lock: 'LOCK',
          payload_unlock: 'UNLOCK',
          payload_open: 'OPEN',
          state_locked: 'LOCKED',
          state_unlocked: 'UNLOCKED',
          optimistic: false,
          qos: 1,
        }),
      });
      out.push({ topic: configTopic('binary_sensor', 'lock'), payload: '' });
    } else {
      // Home Assistant's lock entity needs a command topic; read-only, it is a lock binary sensor (on = unlocked).
      out.push({
        topic: configTopic('binary_sensor', 'lock'),
        payload: json({
          ...common('lock', 'Door lock'),
          device_class: 'lock',
          state_topic: topics.state,
          value_template: "{{ 'OFF' if value_json.door.locked else 'ON' }}",
        }),
      });
      out.push({ topic: configTopic('lock', 'lock'), payload: '' });
    }

    out.push({
      topic: configTopic('binary_sensor', 'door'),
      payload: this.opts.hasDoorContact
        ? json({
            ...common('door', 'Door'),
            device_class: 'door',
            state_topic: topics.state,
            value_template: "{{ 'ON' if value_json.door.open else 'OFF' }}",
          })
        : '',
    });

    out.push({
      topic: configTopic('event', 'access'),
      payload: json({
        ...common('access', 'Access'),
        state_topic: topics.events,
        event_types: EVENT_TYPES,
        // Our events carry `type`; Home Assistant wants `event_type`. The other fields become attributes.
        value_template: '{{ dict(value_json, event_type=value_json.type) | to_json }}',
        qos: 1,
      }),
    });

    const diagnostic = (object: string, name: string, template: string, extra: object = {}) => ({
      topic: configTopic('sensor', object),
      payload: json({
        ...common(object, name),
        entity_category: 'diagnostic',
        state_topic: topics.state,
        value_template: template,
        ...extra,
      }),
    });
    out.push(
      diagnostic('fps', 'Frames per second', '{{ value_json.fps }}', {
        unit_of_measurement: 'fps',
        state_class: 'measurement',
        icon: 'mdi:speedometer',
      }),
    );
    out.push(
      diagnostic('gallery_people', 'Enrolled people', '{{ value_json.gallery.people }}', {
        state_class: 'measurement',
        icon: 'mdi:account-group',
      }),
    );
    out.push(
      diagnostic('gallery_version', 'Gallery version', '{{ value_json.gallery.version }}', {
        icon: 'mdi:database',
      }),
    );
    out.push(diagnostic('model_id', 'Model', '{{ value_json.model.id }}', { icon: 'mdi:brain' }));
    out.push(
      diagnostic('unlocks', 'Unlocks since start', '{{ value_json.door.unlocks }}', {
        state_class: 'total_increasing',
        icon: 'mdi:lock-open-variant',
      }),
    );

    // Connectivity reads the availability topic itself, so it has no availability of its own.
    const {
      availability_topic: _a,
      payload_available: _p,
      payload_not_available: _n,
      ...noAvailability
    } = common('mqtt', 'MQTT connected');
    out.push({
      topic: configTopic('binary_sensor', 'mqtt'),
      payload: json({
        ...noAvailability,
        device_class: 'connectivity',
        entity_category: 'diagnostic',
        state_topic: topics.availability,
        payload_on: 'online',
        payload_off: 'offline',
      }),
    });
    return out;
  }

  private publishIfChanged(): void {
    const current = JSON.stringify(this.messages());
    if (current === this.lastSent) {
      this.log.debug('reconnected; discovery configs unchanged and retained, not re-sent');
      return;
    }
    this.publishAll();
  }

  private publishAll(): void {
    const messages = this.messages();
    this.lastSent = JSON.stringify(messages);
    this.sends++;
    for (const { topic, payload } of messages) {
      this.opts.transport.publish(topic, payload, { qos: 1, retain: true }).catch((err: Error) => {
        this.lastSent = null; // not all sent: the next connect sends them again
        this.log.warn({ err: err.message, topic }, 'could not publish discovery config');
      });
    }
  }

  private scheduleResend(): void {
    if (this.resendTimer) return;
    const jitter = this.opts.resendJitterMs ?? 2000;
    this.resendTimer = setTimeout(
      () => {
        this.resendTimer = null;
        this.publishAll();
      },
      Math.floor(Math.random() * jitter),
    );
    this.resendTimer.unref();
  }

  private onCommand(payload: Buffer): void {
    const text = payload.toString('utf8').trim();
    const command: HomeAssistantCommand | null =
      text === 'UNLOCK' || text === 'OPEN' ? 'unlock' : text === 'LOCK' ? 'lock' : null;
    if (!command) {
      this.log.warn({ payload: text.slice(0, 32) }, 'ignoring unknown Home Assistant lock command');
      return;
    }
    this.log.info({ command }, 'Home Assistant lock command');
    try {
      this.opts.onCommand?.(command);
    } catch (err) {
      this.log.error({ err }, 'Home Assistant command handler failed');
    }
  }
}
