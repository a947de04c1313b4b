import type { EventBody, EventSink, FacegateEvent } from '../../src/events.js';

/**
 * An `EventSink` that keeps what it was given: `events` are the bodies as the producer
 * built them (assert on these), `published` the stamped events `emit` returned.
 */
export class RecordingSink implements EventSink {
  readonly events: EventBody[] = [];
  readonly published: FacegateEvent[] = [];

  constructor(
    private readonly device = 'test',
    private readonly nowMs: () => number = () => 0,
  ) {}

  emit(body: EventBody): FacegateEvent {
    this.events.push(body);
    const event: FacegateEvent = {
      ...body,
      id: `e${this.events.length}`,
      ts: new Date(this.nowMs()).toISOString(),
      device: this.device,
    };
    this.published.push(event);
    return event;
  }

  types(): string[] {
    return this.events.map((e) => e.type);
  }
}
