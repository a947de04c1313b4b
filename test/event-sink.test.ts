import { describe, expect, it } from 'vitest';
import { AppEventSink } from '../src/event-sink.js';
import type { EventBody, EventSink, FacegateEvent } from '../src/events.js';
import { systemClock } from '../src/util/clock.js';
import { recordingLogger } from './helpers/fake-app.js';

class Store implements EventSink {
  readonly stored: EventBody[] = [];
  emit(body: EventBody): FacegateEvent {
    this.stored.push(body);
    return { ...body, id: `s${this.stored.length}`, ts: 'now', device: 'd' } as FacegateEvent;
  }
}

describe('AppEventSink', () => {
  it('logs events while the database is not open, stores them while attached, logs again after detach', () => {
    const rec = recordingLogger();
    const sink = new AppEventSink('door-9', systemClock, rec.logger);
    const before = sink.emit({ type: 'door_forced' });
    expect(before).toMatchObject({ id: 'unstored', device: 'door-9', type: 'door_forced' });
    expect(rec.has('event while the gallery database is not open: logged only')).toBe(true);
    const store = new Store();
    sink.attach(store);
    expect(sink.emit({ type: 'door_held_open', seconds: 30 }).id).toBe('s1');
    sink.detach();
    expect(sink.emit({ type: 'door_forced' }).id).toBe('unstored');
    expect(store.stored).toEqual([{ type: 'door_held_open', seconds: 30 }]);
  });
});
