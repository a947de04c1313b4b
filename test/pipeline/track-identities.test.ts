import { describe, expect, it } from 'vitest';
import type { MatchResult } from '../../src/gallery/matcher.js';
import { identityOf, TrackIdentities, type EmbeddedOutcome } from '../../src/pipeline/track-identities.js';

const thresholds = { accept: 0.7, unknown: 0.5, minMargin: 0.05 };
const box = (x: number) => ({ x, y: 100, width: 120, height: 120 });

function match(personId: string, similarity: number, runnerUp: number | null = null): MatchResult {
  return {
    best: { personId, name: personId, distance: 1 - similarity, similarity },
    runnerUp:
      runnerUp === null
        ? null
        : { personId: 'other', name: 'other', distance: 1 - runnerUp, similarity: runnerUp },
  };
}

const ok = (m: MatchResult | null): EmbeddedOutcome => ({ match: m, quality: 'ok', livenessFinal: true });

describe('identityOf (the access policy vote classes)', () => {
  it('names a person only at the accept threshold with the margin, unknown below the unknown threshold', () => {
    expect(identityOf(match('alice', 0.9), thresholds)).toBe('person:alice');
    expect(identityOf(match('alice', 0.9, 0.88), thresholds)).toBeNull(); // margin too small
    expect(identityOf(match('alice', 0.6), thresholds)).toBeNull(); // inconclusive band
    expect(identityOf(match('alice', 0.4), thresholds)).toBe('unknown');
    expect(identityOf(null, thresholds)).toBe('unknown'); // empty gallery
  });
});

describe('TrackIdentities', () => {
  it('decides a track after agreeFrames agreeing embeddings, then reuses it and re-embeds every k-th frame', () => {
    const ids = new TrackIdentities({ agreeFrames: 3, reembedEvery: 4 }, thresholds);
    const embedded: number[] = [];
    for (let f = 0; f < 15; f++) {
      const [plan] = ids.plan(f * 33, [box(100 + f)]);
      if (plan.reuse) {
        expect(plan.reuse.identity).toBe('person:alice');
        expect(plan.reuse.match?.best.personId).toBe('alice');
        continue;
      }
      embedded.push(f);
      ids.record(plan.trackId, ok(match('alice', 0.9)));
    }
    // 0, 1, 2 decide it; then every 4th frame: 6, 10, 14.
    expect(embedded).toEqual([0, 1, 2, 6, 10, 14]);
  });

  it('catches a swap inside the box at the next re-embedding and then embeds every frame again', () => {
    const ids = new TrackIdentities({ agreeFrames: 3, reembedEvery: 5 }, thresholds);
    const embedded: { f: number; who: string }[] = [];
    let trackIds = new Set<number>();
    for (let f = 0; f < 20; f++) {
      // Alice until frame 7, then Bob steps into the same box.
      const who = f < 7 ? 'alice' : 'bob';
      const [plan] = ids.plan(f * 33, [box(100)]);
      trackIds.add(plan.trackId);
      if (plan.reuse) continue;
      embedded.push({ f, who });
      ids.record(plan.trackId, ok(match(who, 0.9)));
    }
    expect(trackIds.size).toBe(1); // the tracker cannot see the swap
    // Alice decided at 2; re-embedded at 7: Bob disagrees → 8 and 9 embedded, decided at 9;
    // then Bob is reused and re-embedded at 14 and 19.
    expect(embedded.map((e) => e.f)).toEqual([0, 1, 2, 7, 8, 9, 14, 19]);
    expect(embedded.find((e) => e.f === 7)?.who).toBe('bob');
    trackIds = new Set();
  });

  it('never decides on inconclusive, poor, fallback or liveness-undecided faces', () => {
    const cases: EmbeddedOutcome[] = [
      ok(match('alice', 0.6)),
      { match: match('alice', 0.9), quality: 'poor', livenessFinal: true },
      {
        match: match('alice', 0.9),
        quality: 'ok',
        alignmentFallback: 'implausible_landmarks',
        livenessFinal: true,
      },
      { match: match('alice', 0.9), quality: 'ok', livenessFinal: false },
    ];
    for (const outcome of cases) {
      const ids = new TrackIdentities({ agreeFrames: 2, reembedEvery: 5 }, thresholds);
      for (let f = 0; f < 6; f++) {
        const [plan] = ids.plan(f * 33, [box(100)]);
        expect(plan.reuse).toBeUndefined();
        ids.record(plan.trackId, outcome);
      }
    }
  });

  it('an interruption of the agreeing run starts the count again; a new track starts undecided', () => {
    const ids = new TrackIdentities({ agreeFrames: 3, reembedEvery: 5 }, thresholds);
    const seq = ['alice', 'alice', 'bob', 'alice', 'alice'];
    seq.forEach((who, f) => {
      const [plan] = ids.plan(f * 33, [box(100)]);
      expect(plan.reuse).toBeUndefined();
      ids.record(plan.trackId, ok(match(who, 0.9)));
    });
    const [sixth] = ids.plan(5 * 33, [box(100)]);
    expect(sixth.reuse).toBeUndefined(); // only 2 agreeing since bob
    ids.record(sixth.trackId, ok(match('alice', 0.9)));
    expect(ids.isDecided(sixth.trackId)).toBe(true);
    // Far away in the frame: another track, undecided.
    const [, other] = ids.plan(6 * 33, [box(100), box(400)]);
    expect(other.trackId).not.toBe(sixth.trackId);
    expect(other.reuse).toBeUndefined();
  });

  it('forgets ended tracks and rejects bad options', () => {
    const ids = new TrackIdentities(
      { agreeFrames: 1, reembedEvery: 3, tracker: { maxGapMs: 100 } },
      thresholds,
    );
    const [p] = ids.plan(0, [box(100)]);
    ids.record(p.trackId, ok(match('alice', 0.9)));
    expect(ids.size).toBe(1);
    ids.plan(1000, []);
    expect(ids.size).toBe(0);
    expect(() => new TrackIdentities({ agreeFrames: 0, reembedEvery: 3 }, thresholds)).toThrow(RangeError);
    expect(() => new TrackIdentities({ agreeFrames: 1, reembedEvery: 1.5 }, thresholds)).toThrow(RangeError);
  });
});
