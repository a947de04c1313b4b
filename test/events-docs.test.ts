import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ENVELOPE_FIELDS, EVENT_FIELDS, EVENT_TYPES } from '../src/events.js';
import { EVENT_TYPES as DISCOVERY_EVENT_TYPES } from '../src/mqtt/discovery.js';

interface DocumentedType {
  readonly fields: Map<string, 'required' | 'optional'>;
}

/**
 * The `### Events` section of docs/mqtt.md: the envelope table, then one `#### \`type\``
 * heading per event type with a table of its fields (`optional` in the Type column marks
 * an optional field; a type without fields has no table).
 */
function parseEventsSection(markdown: string): { envelope: string[]; types: Map<string, DocumentedType> } {
  const start = markdown.indexOf('### Events');
  expect(start, 'docs/mqtt.md has an "### Events" section').toBeGreaterThanOrEqual(0);
  const rest = markdown.slice(start + 1);
  const end = rest.search(/^### /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const envelope: string[] = [];
  const types = new Map<string, DocumentedType>();
  let current: DocumentedType | null = null;
  for (const line of section.split('\n')) {
    const heading = /^#### `([a-z_]+)`\s*$/.exec(line);
    if (heading) {
      expect(types.has(heading[1]), `${heading[1]} documented twice`).toBe(false);
      current = { fields: new Map() };
      types.set(heading[1], current);
      continue;
    }
    const row = /^\|\s*`([A-Za-z_]+)`\s*\|([^|]*)\|/.exec(line);
    if (!row) continue;
    if (current) current.fields.set(row[1], /optional/i.test(row[2]) ? 'optional' : 'required');
    else envelope.push(row[1]);
  }
  return { envelope, types };
}

const docs = parseEventsSection(
  readFileSync(fileURLToPath(new URL('../docs/mqtt.md', import.meta.url)), 'utf8'),
);

describe('docs/mqtt.md documents the event union of src/events.ts exactly', () => {
  it('the envelope', () => {
    expect(docs.envelope.sort()).toEqual([...ENVELOPE_FIELDS].sort());
  });

  it('every event type, and no type that does not exist', () => {
    expect([...docs.types.keys()].sort()).toEqual([...EVENT_TYPES].sort());
  });

  it.each(EVENT_TYPES.map((t) => [t]))('%s: every field with its presence, nothing more', (type) => {
    const documented = Object.fromEntries(docs.types.get(type)?.fields ?? []);
    expect(documented).toEqual(EVENT_FIELDS[type]);
  });

  it('Home Assistant announces the same event types', () => {
    expect([...DISCOVERY_EVENT_TYPES]).toEqual([...EVENT_TYPES]);
  });
});
