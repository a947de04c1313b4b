import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FacegateEvent } from '../../src/events.js';
import { GalleryInputError, GalleryStore } from '../../src/gallery/store.js';
import { MemoryEventOutbox } from '../../src/mqtt/event-publisher.js';
import { silentLogger } from '../../src/util/log.js';
import { outboxContract, type OutboxUnderTest } from '../contracts/event-outbox.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function newPath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'facegate-outbox-'));
  dirs.push(dir);
  return join(dir, 'facegate.db');
}

function sqlite(path: string, pick: (s: GalleryStore) => OutboxUnderTest['outbox']): OutboxUnderTest {
  const store = new GalleryStore(path, silentLogger());
  return {
    outbox: pick(store),
    close: () => store.close(),
    reopen: () => (store.close(), sqlite(path, pick)),
  };
}

outboxContract('MemoryEventOutbox', () => ({ outbox: new MemoryEventOutbox() }));
outboxContract('SQLite outbox (GalleryStore.outbox)', () => sqlite(newPath(), (s) => s.outbox));
outboxContract('SQLite audited outbox (GalleryStore.auditedOutbox)', () =>
  sqlite(newPath(), (s) => s.auditedOutbox),
);
outboxContract('GalleryStore itself', () => sqlite(newPath(), (s) => s));

describe('the audited outbox', () => {
  function event(id: string, type = 'access_granted'): FacegateEvent {
    return { id, type, ts: '2026-01-01T00:00:00.000Z', device: 'd', person: 'alice' } as FacegateEvent;
  }

  it('writes each event and its audit row together, once per event id', () => {
    const store = new GalleryStore(newPath(), silentLogger());
    try {
      store.auditedOutbox.appendOutbox(event('e1'));
      store.auditedOutbox.appendOutbox(event('e1')); // re-delivered: neither queued nor audited again
      store.auditedOutbox.appendOutbox(event('e2', 'door_forced'));
      expect(store.listAudit(10).map((a) => [a.kind, (a.detail as FacegateEvent).id])).toEqual([
        ['door_forced', 'e2'],
        ['access_granted', 'e1'],
      ]);
      expect(store.outboxPendingCount()).toBe(2);
    } finally {
      store.close();
    }
  });

  it('when the audit row cannot be written, the event is not queued either (one transaction)', () => {
    const store = new GalleryStore(newPath(), silentLogger());
    try {
      // The audit log refuses kinds over 64 characters; the outbox alone would take it.
      expect(() => store.auditedOutbox.appendOutbox(event('e1', 'x'.repeat(65)))).toThrow(GalleryInputError);
      expect(store.outboxPendingCount()).toBe(0);
      expect(store.listAudit(10)).toEqual([]);
    } finally {
      store.close();
    }
  });
});
