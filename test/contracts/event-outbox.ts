import { afterEach, describe, expect, it } from 'vitest';
import type { EventOutbox, FacegateEvent } from '../../src/events.js';

/** One outbox under test; `reopen` (durable outboxes only) closes it and opens the same storage again. */
export interface OutboxUnderTest {
  readonly outbox: EventOutbox;
  readonly reopen?: () => OutboxUnderTest;
  readonly close?: () => void;
}

function event(n: number, type: FacegateEvent['type'] = 'unknown_face'): FacegateEvent {
  return {
    id: `contract-${n}`,
    type,
    ts: new Date(Date.UTC(2026, 0, 1) + n).toISOString(),
    device: 'door-1',
    score: n / 100,
  } as FacegateEvent;
}

/**
 * THE contract of `EventOutbox` (src/events.ts), run against every implementation (the
 * pattern of MQTT.js's abstract_store test): call it once per implementation with a
 * factory giving a fresh, empty outbox.
 */
export function outboxContract(name: string, make: () => OutboxUnderTest): void {
  describe(`EventOutbox contract: ${name}`, () => {
    const open: OutboxUnderTest[] = [];
    function fresh(): OutboxUnderTest {
      const o = make();
      open.push(o);
      return o;
    }
    afterEach(() => {
      for (const o of open.splice(0)) o.close?.();
    });

    it('starts empty', () => {
      expect(fresh().outbox.pendingOutbox(10)).toEqual([]);
    });

    it('gives strictly increasing sequence numbers in append order and keeps the events as they were', () => {
      const { outbox } = fresh();
      const seqs = [1, 2, 3, 4].map((n) => outbox.appendOutbox(event(n)));
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
      const pending = outbox.pendingOutbox(10);
      expect(pending.map((p) => p.seq)).toEqual(seqs);
      expect(pending.map((p) => p.event)).toEqual([1, 2, 3, 4].map((n) => event(n)));
    });

    it('pendingOutbox returns at most `limit`, oldest first', () => {
      const { outbox } = fresh();
      for (const n of [1, 2, 3, 4, 5]) outbox.appendOutbox(event(n));
      expect(outbox.pendingOutbox(2).map((p) => p.event.id)).toEqual(['contract-1', 'contract-2']);
      expect(outbox.pendingOutbox(2)).toEqual(outbox.pendingOutbox(2)); // reading does not consume
    });

    it('markSent removes exactly the acknowledged events, also out of order and twice', () => {
      const { outbox } = fresh();
      const seqs = [1, 2, 3, 4].map((n) => outbox.appendOutbox(event(n)));
      outbox.markSent([seqs[2], seqs[0]]);
      outbox.markSent([seqs[0]]);
      outbox.markSent([]);
      expect(outbox.pendingOutbox(10).map((p) => p.event.id)).toEqual(['contract-2', 'contract-4']);
      outbox.appendOutbox(event(5));
      expect(outbox.pendingOutbox(10).map((p) => p.event.id)).toEqual([
        'contract-2',
        'contract-4',
        'contract-5',
      ]);
    });

    it('an event id already queued is not queued twice: its first sequence number comes back', () => {
      const { outbox } = fresh();
      const first = outbox.appendOutbox(event(1));
      outbox.appendOutbox(event(2));
      expect(outbox.appendOutbox(event(1))).toBe(first);
      expect(outbox.pendingOutbox(10).map((p) => p.event.id)).toEqual(['contract-1', 'contract-2']);
    });

    it('a sequence number is never reused after events were sent', () => {
      const { outbox } = fresh();
      const a = outbox.appendOutbox(event(1));
      outbox.markSent([a]);
      const b = outbox.appendOutbox(event(2));
      expect(b).toBeGreaterThan(a);
    });

    it('durable implementations keep unsent events, their order and their numbers across a reopen', (ctx) => {
      const first = fresh();
      if (!first.reopen) {
        ctx.skip(); // in-memory outbox: events are lost on exit by design
        return;
      }
      const seqs = [1, 2, 3].map((n) => first.outbox.appendOutbox(event(n)));
      first.outbox.markSent([seqs[0]]);
      const again = first.reopen();
      open.push(again);
      expect(again.outbox.pendingOutbox(10)).toEqual([
        { seq: seqs[1], event: event(2) },
        { seq: seqs[2], event: event(3) },
      ]);
      expect(again.outbox.appendOutbox(event(4))).toBeGreaterThan(seqs[2]);
    });
  });
}
