/**
 * Matcher and gallery speed on this machine (prints numbers; not a test).
 *   npx tsx scripts/bench-matcher.ts [people=10000] [facesPerPerson=1,3] [dim=128]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Matcher } from '../src/gallery/matcher.js';
import { GalleryStore } from '../src/gallery/store.js';
import { silentLogger } from '../src/util/log.js';

const people = Number(process.argv[2] ?? 10_000);
const facesList = (process.argv[3] ?? '1,3').split(',').map(Number);
const dim = Number(process.argv[4] ?? 128);
const head = { weight: -5, bias: 4 };

let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
const vec = () => new Float32Array(dim).map(rnd);
// Embedding-like data: people are clusters, a query is near one of them.
const centres: Float32Array[] = [];
const near = (c: Float32Array) => c.map((x) => x + 0.15 * rnd());
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];

for (const faces of facesList) {
  const entries = [];
  centres.length = 0;
  for (let p = 0; p < people; p++) centres.push(vec());
  for (let p = 0; p < people; p++)
    for (let f = 0; f < faces; f++)
      entries.push({ personId: `p${p}`, personName: `P${p}`, vector: near(centres[p]) });
  for (const simd of [true, false]) {
    const m = new Matcher(head, dim, { simd });
    let t = performance.now();
    m.rebuild(entries);
    const buildMs = performance.now() - t;
    // Half known people, half strangers.
    const queries = Array.from({ length: 300 }, (_, i) => (i % 2 ? near(centres[(i * 37) % people]) : vec()));
    for (const q of queries.slice(0, 50)) m.match(q); // warm up the JIT
    const times: number[] = [];
    const cpuBefore = process.cpuUsage();
    for (const q of queries) {
      t = performance.now();
      m.match(q);
      times.push(performance.now() - t);
    }
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMs = (cpu.user + cpu.system) / 1000 / queries.length;
    t = performance.now();
    m.removePerson('p123');
    const removeMs = performance.now() - t;
    console.log(
      `matcher [${m.engine}]: ${people} people x ${faces} face(s) = ${m.size} rows, dim ${dim}: match CPU ${cpuMs.toFixed(2)} ms/query, wall median ${pct(times, 0.5).toFixed(2)} ms, p95 ${pct(times, 0.95).toFixed(2)} ms; rebuild ${buildMs.toFixed(1)} ms; removePerson ${removeMs.toFixed(2)} ms; vectors ${((m.size * dim * 4) / 1e6).toFixed(1)} MB`,
    );
  }
}

// Gallery: an enrollment is one synchronous=FULL transaction (fsync'd before it returns).
const dir = mkdtempSync(join(tmpdir(), 'facegate-bench-'));
try {
  const store = new GalleryStore(join(dir, 'g.db'), silentLogger());
  const crop = { width: 64, height: 64, data: new Uint8Array(4096).map((_, i) => i & 255) };
  const n = 200;
  let t = performance.now();
  for (let i = 0; i < n; i++)
    store.enroll({ id: `p${i}`, modelId: 'bench', faces: [1, 2, 3].map(() => ({ crop, embedding: vec() })) });
  const enrollMs = (performance.now() - t) / n;
  t = performance.now();
  const rows = store.loadEmbeddings('bench');
  const loadMs = performance.now() - t;
  store.close();
  console.log(
    `gallery: enroll (3 faces, one FULL-sync transaction) ${enrollMs.toFixed(2)} ms each; loadEmbeddings ${rows.length} rows ${loadMs.toFixed(1)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
