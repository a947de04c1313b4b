import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCESS_CONFIG, type AccessConfig } from '../../src/access/config.js';
import { AccessPolicy, type AccessDecision, type ObservedFace } from '../../src/access/policy.js';
import type { MatchResult } from '../../src/gallery/matcher.js';
import { ManualTime } from '../fakes/manual-time.js';

const config: AccessConfig = {
  ...DEFAULT_ACCESS_CONFIG,
  acceptThreshold: 0.7,
  unknownThreshold: 0.5,
  minMargin: 0.1,
  confirmFrames: 3,
  windowFrames: 5,
  windowSeconds: 3,
  cooldownSeconds: 10,
  noticeCooldownSeconds: 10,
};

function match(id: string, similarity: number, runnerUp?: [string, number]): MatchResult {
  return {
    best: { personId: id, name: id.toUpperCase(), distance: 1 - similarity, similarity },
    runnerUp: runnerUp
      ? {
          personId: runnerUp[0],
          name: runnerUp[0].toUpperCase(),
          distance: 1 - runnerUp[1],
          similarity: runnerUp[1],
        }
      : null,
  };
}

/** One face as the loop hands it over: `poor` when the gate gave reasons. */
function face(m: MatchResult | null, reasons: string[] = []): ObservedFace {
  return {
    region: { box: { x: 10, y: 10, width: 100, height: 100 } },
    quality: reasons.length > 0 ? 'poor' : 'ok',
    reasons,
    match: m,
  };
}

function setup(c: AccessConfig = config) {
  const time = new ManualTime();
  const policy = new AccessPolicy(c);
  /** One face per frame; frames `stepMs` apart (the frame's own timestamp). */
  const frames = (m: MatchResult | null, n: number, stepMs = 100, qualityReasons?: string[]) => {
    const out: AccessDecision[] = [];
    for (let i = 0; i < n; i++) {
      out.push(...policy.observe(time.monotonicMs(), [face(m, qualityReasons)]));
      time.advance(stepMs);
    }
    return out;
  };
  /** One frame's faces → at most one decision (the single-face tests' shape). */
  const one = (m: MatchResult | null): AccessDecision | null =>
    policy.observe(time.monotonicMs(), [face(m)])[0] ?? null;
  return { time, policy, frames, one };
}

describe('AccessPolicy', () => {
  it('grants after N agreeing frames, with score, margin and frames', () => {
    const { frames } = setup();
    expect(frames(match('alice', 0.9, ['bob', 0.6]), 2)).toEqual([]);
    expect(frames(match('alice', 0.85, ['bob', 0.7]), 1)).toEqual([
      { type: 'access_granted', person: { id: 'alice', name: 'ALICE' }, score: 0.9, margin: 0.15, frames: 3 },
    ]);
  });

  it('counts N of the last M: interleaved inconclusive frames still allow a grant', () => {
    const { frames, one } = setup();
    frames(match('alice', 0.9), 1);
    frames(match('alice', 0.6), 1); // below accept
    frames(match('alice', 0.9), 1);
    frames(match('alice', 0.6), 1);
    const d = one(match('alice', 0.95));
    expect(d?.type).toBe('access_granted');
  });

  it('does not grant when the votes are spread over more than M frames', () => {
    const { frames } = setup({ ...config, windowFrames: 3 });
    const out = [
      ...frames(match('alice', 0.9), 1),
      ...frames(match('alice', 0.6), 2),
      ...frames(match('alice', 0.9), 1),
      ...frames(match('alice', 0.6), 2),
      ...frames(match('alice', 0.9), 1),
    ];
    expect(out.some((d) => d.type === 'access_granted')).toBe(false);
  });

  it('frames older than T seconds do not count', () => {
    const { frames } = setup();
    expect(frames(match('alice', 0.9), 2, 1600)).toEqual([]);
    // Third vote comes 3.2 s after the first one: only two are inside the window.
    expect(frames(match('alice', 0.9), 1)).toEqual([]);
    expect(frames(match('alice', 0.9), 1)[0]?.type).toBe('access_granted');
  });

  it('a small margin over the runner-up person is never a grant, and is denied with that reason', () => {
    const { frames } = setup();
    const out = frames(match('alice', 0.9, ['bob', 0.85]), 5);
    expect(out).toEqual([
      {
        type: 'access_denied',
        score: 0.9,
        closest: { id: 'alice', name: 'ALICE' },
        reason: 'margin_too_small',
        frames: 5,
      },
    ]);
  });

  it('two people alternating never confirm either when N > M/2', () => {
    const { one } = setup({ ...config, windowFrames: 4 });
    const out: (AccessDecision | null)[] = [];
    for (let i = 0; i < 4; i++) {
      out.push(one(match('alice', 0.9)), one(match('bob', 0.9)));
    }
    expect(out.filter((d) => d?.type === 'access_granted')).toEqual([]);
  });

  it('below the unknown threshold is unknown_face, once per notice cooldown, with quality reasons', () => {
    const { frames, time } = setup();
    const first = frames(match('alice', 0.3), 3, 100, ['blurry']);
    expect(first).toEqual([{ type: 'unknown_face', score: 0.3, frames: 3, quality: ['blurry'] }]);
    expect(frames(match('alice', 0.3), 20)).toEqual([]);
    time.advance(10_000);
    expect(frames(null, 3).map((d) => d.type)).toEqual(['unknown_face']);
  });

  it('unknown_face reports the unknown frames, not an enrolled person seen just before', () => {
    const { frames } = setup();
    frames(match('alice', 0.95), 2); // alice walks past (not confirmed)
    expect(frames(match('alice', 0.2), 3)).toEqual([
      { type: 'unknown_face', score: 0.2, frames: 3, quality: [] },
    ]);
  });

  it('between the thresholds is access_denied (below_accept_threshold), not unknown', () => {
    const { frames } = setup();
    expect(frames(match('alice', 0.6), 5)).toEqual([
      {
        type: 'access_denied',
        score: 0.6,
        closest: { id: 'alice', name: 'ALICE' },
        reason: 'below_accept_threshold',
        frames: 5,
      },
    ]);
  });

  it('access_denied is rate-limited per closest person', () => {
    const { frames } = setup();
    expect(frames(match('alice', 0.6), 5).map((d) => d.type)).toEqual(['access_denied']);
    expect(frames(match('alice', 0.6), 20)).toEqual([]);
    // Someone else resembling bob right after: reported.
    expect(
      frames(match('bob', 0.6), 5).map((d) => [d.type, (d as { closest?: { id: string } }).closest?.id]),
    ).toEqual([['access_denied', 'bob']]);
  });

  it('poor quality frames never vote for a person', () => {
    const { frames } = setup();
    const out = frames(match('alice', 0.95), 5, 100, ['too_small']);
    expect(out.map((d) => [d.type, (d as { reason?: string }).reason])).toEqual([
      ['access_denied', 'poor_quality'],
    ]);
  });

  it('a person is granted once per cooldown, then again after it', () => {
    const { frames, time } = setup();
    expect(frames(match('alice', 0.9), 3).map((d) => d.type)).toEqual(['access_granted']);
    expect(frames(match('alice', 0.9), 30)).toEqual([]); // still at the door, 3 s
    // Someone else is not held up by alice's cooldown.
    expect(frames(match('bob', 0.9), 3).map((d) => d.type)).toEqual(['access_granted']);
    time.advance(7000);
    expect(frames(match('alice', 0.9), 3).map((d) => d.type)).toEqual(['access_granted']);
  });

  it('forgetPerson drops their pending votes', () => {
    const { frames, policy } = setup();
    frames(match('alice', 0.9), 2);
    policy.forgetPerson('alice');
    expect(frames(match('alice', 0.9), 1)).toEqual([]);
  });

  it('judges by the frame timestamp, not by when observe() is called', () => {
    const policy = new AccessPolicy(config);
    // Three frames 1.6 s apart, decided in one burst: the window (3 s) holds only two of them.
    const t0 = 5_000;
    const out = [0, 1600, 3200].flatMap((dt) => policy.observe(t0 + dt, [face(match('alice', 0.9))]));
    expect(out).toEqual([]);
    expect(policy.observe(t0 + 3300, [face(match('alice', 0.9))]).map((d) => d.type)).toEqual([
      'access_granted',
    ]);
  });

  it('every face of a frame votes; an empty frame decides nothing', () => {
    const policy = new AccessPolicy({ ...config, windowFrames: 4 });
    expect(policy.observe(0, [])).toEqual([]);
    const both = [face(match('alice', 0.9)), face(match('bob', 0.9))];
    // Two people in every frame: the last 4 votes are always 2 + 2, so neither confirms.
    for (let t = 0; t < 1000; t += 100) expect(policy.observe(t, both)).toEqual([]);
    // Alice alone from now on: her votes fill the window.
    const alone = [0, 1, 2].flatMap((i) => policy.observe(1000 + i * 100, [face(match('alice', 0.9))]));
    expect(alone.map((d) => d.type)).toEqual(['access_granted']);
    expect(() => policy.observe(Number.NaN, both)).toThrow(RangeError);
  });

  it('carries alignment fallbacks of the deciding faces into the event, and only then', () => {
    const policy = new AccessPolicy(config);
    const unaligned = { ...face(match('alice', 0.9)), alignmentFallback: 'no_landmark_model' };
    const out = [0, 100, 200].flatMap((t, i) =>
      policy.observe(t, [i === 1 ? unaligned : face(match('alice', 0.9))]),
    );
    expect(out).toEqual([
      expect.objectContaining({ type: 'access_granted', alignmentFallback: ['no_landmark_model'] }),
    ]);
    const clean = new AccessPolicy(config);
    const granted = [0, 100, 200].flatMap((t) => clean.observe(t, [face(match('bob', 0.9))]));
    expect(granted[0]).not.toHaveProperty('alignmentFallback');
  });
});
