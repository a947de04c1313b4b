import { describe, expect, it } from 'vitest';
import { DEFAULT_ACCESS_CONFIG, type AccessConfig } from '../../src/access/config.js';
import { AccessPolicy, type AccessDecision, type ObservedFace } from '../../src/access/policy.js';
import type { MatchResult } from '../../src/gallery/matcher.js';
import { DEFAULT_LIVENESS_CONFIG } from '../../src/liveness/config.js';
import type { TrackVerdict } from '../../src/liveness/judge.js';

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
  liveness: { ...DEFAULT_LIVENESS_CONFIG, mode: 'on', maxDecisionSeconds: 2 },
};

const alice: MatchResult = {
  best: { personId: 'alice', name: 'Alice', distance: 0.1, similarity: 0.9 },
  runnerUp: null,
};

function verdict(kind: TrackVerdict['verdict'], trackId = 1, sinceMs = 0): TrackVerdict {
  return {
    verdict: kind,
    reasons: kind === 'live' ? ['non_planar_motion'] : kind === 'spoof' ? ['planar_motion'] : ['no_motion'],
    scores: { planar_residual: kind === 'spoof' ? 0.004 : 0.05 },
    trackId,
    sinceMs,
  };
}

function face(liveness?: TrackVerdict, m: MatchResult | null = alice): ObservedFace {
  return {
    region: { box: { x: 0, y: 0, width: 100, height: 100 } },
    quality: 'ok',
    reasons: [],
    match: m,
    liveness,
  };
}

/** Frames 100 ms apart from `startMs`, each with one face and the verdict `at(i)`. */
function run(policy: AccessPolicy, n: number, at: (i: number) => TrackVerdict | undefined, startMs = 0) {
  const out: AccessDecision[] = [];
  for (let i = 0; i < n; i++) out.push(...policy.observe(startMs + i * 100, [face(at(i))]));
  return out;
}

describe('AccessPolicy with liveness on', () => {
  it('grants a confirmed person once their track is live, with the evidence in the event', () => {
    const policy = new AccessPolicy(config);
    const out = run(policy, 8, (i) => verdict(i < 5 ? 'undecided' : 'live'));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({
      type: 'access_granted',
      person: { id: 'alice' },
      liveness: { verdict: 'live', reasons: ['non_planar_motion'] },
    });
  });

  it('never grants an undecided face: access_denied liveness_undecided after maxDecisionSeconds', () => {
    const policy = new AccessPolicy(config);
    const out = run(policy, 30, () => verdict('undecided'));
    expect(out.filter((d) => d.type === 'access_granted')).toEqual([]);
    const denied = out.filter((d) => d.type === 'access_denied');
    expect(denied).toHaveLength(1);
    expect(denied[0]).toMatchObject({ reason: 'liveness_undecided', closest: { id: 'alice' } });
    // The wait counts from the face appearing (sinceMs 0): refused at 2 s, not later.
    const at = out.indexOf(denied[0]);
    expect(at).toBeGreaterThanOrEqual(0);
  });

  it('faces with no liveness verdict at all (no stage) are never granted', () => {
    const policy = new AccessPolicy(config);
    const out = run(policy, 30, () => undefined);
    expect(out.map((d) => d.type)).toEqual(['access_denied']);
    expect(out[0]).toMatchObject({
      reason: 'liveness_undecided',
      liveness: { reasons: ['no_liveness_stage'] },
    });
  });

  it('a spoof track gives one spoof_suspected naming the person, and never a grant', () => {
    const policy = new AccessPolicy(config);
    const out = run(policy, 30, () => verdict('spoof', 7));
    expect(out.map((d) => d.type)).toEqual(['spoof_suspected']);
    expect(out[0]).toMatchObject({
      person: { id: 'alice', name: 'Alice' },
      trackId: 7,
      reasons: ['planar_motion'],
      scores: { planar_residual: 0.004 },
    });
    // A second presentation (new track) is reported again.
    expect(run(policy, 3, () => verdict('spoof', 8), 5000).map((d) => d.type)).toEqual(['spoof_suspected']);
  });

  it('a spoof of a stranger is reported without a person', () => {
    const policy = new AccessPolicy(config);
    const stranger: MatchResult = { ...alice, best: { ...alice.best, similarity: 0.2 } };
    expect(policy.observe(0, [face(verdict('spoof'), stranger)])[0]).toMatchObject({
      type: 'spoof_suspected',
      person: null,
    });
  });

  it('with liveness off the verdicts are ignored (a photo opens the door)', () => {
    const policy = new AccessPolicy({ ...config, liveness: { ...config.liveness!, mode: 'off' } });
    expect(run(policy, 3, () => verdict('spoof')).map((d) => d.type)).toEqual(['access_granted']);
  });
});
