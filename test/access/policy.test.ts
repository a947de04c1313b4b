import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCESS_CONFIG, type AccessConfig } from '../../src/access/config.js';
import { AccessPolicy, type AccessDecision } from '../../src/access/policy.js';
import type { MatchResult } from '../../src/gallery/matcher.js';
import { ManualTime } from './manual-time.js';

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

function setup(c: AccessConfig = config) {
  const time = new ManualTime();
  const policy = new AccessPolicy(c, time);
  const frames = (m: MatchResult | null, n: number, stepMs = 100, qualityReasons?: string[]) => {
    const out: AccessDecision[] = [];
    for (let i = 0; i < n; i++) {
      const d = policy.observe({ match: m, qualityReasons });
      if (d) out.push(d);
      time.advance(stepMs);
    }
    return out;
  };
  return { time, policy, frames };
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
    const { frames, policy } = setup();
    frames(match('alice', 0.9), 1);
    frames(match('alice', 0.6), 1); // below accept
    frames(match('alice', 0.9), 1);
    frames(match('alice', 0.6), 1);
    const d = policy.observe({ match: match('alice', 0.95) });
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
    const { policy } = setup({ ...config, windowFrames: 4 });
    const out: (AccessDecision | null)[] = [];
    for (let i = 0; i < 4; i++) {
      out.push(policy.observe({ match: match('alice', 0.9) }), policy.observe({ match: match('bob', 0.9) }));
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
});
