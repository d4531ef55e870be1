/**
 * Every stateful operator, snapshotted part-way through a deterministic input, encoded, decoded
 * and restored into fresh instances, produces what an uninterrupted run produces: exactly (same
 * order) when restored at the same parallelism, and as a multiset after rescaling (2 → 1, 2 → 3,
 * 3 → 2, 1 → 4 subtasks, records routed by key group). The scenarios and their scripts are in
 * restore-scenarios-test-support.ts.
 */
import { describe, expect, it } from 'vitest'
import { runUninterrupted, runWithRestore, sorted, type Emitted } from '../state/snapshot-test-support.ts'
import { keyOf, scenario, SESSION_BRIDGE_BASE, START_MS, SCENARIOS, type RestoreScenario } from './restore-scenarios-test-support.ts'

const RESCALES: [number, number][] = [
  [2, 1],
  [2, 3],
  [3, 2],
  [1, 4],
]

function options(s: RestoreScenario) {
  return { make: s.make, keyOf: Array.from({ length: s.inputs }, () => keyOf as (v: never) => unknown), steps: s.script.steps, cut: s.script.cut, startMs: START_MS }
}

/** Runs the checks of the module comment; returns the uninterrupted output. */
function expectRestorable(s: RestoreScenario): Emitted[] {
  const o = options(s)
  const base = runUninterrupted(o)
  expect(base.emitted.length).toBeGreaterThan(20)
  const same = runWithRestore({ ...o, before: 1, after: 1 })
  expect(same.emitted).toEqual(base.emitted)
  expect(same.lateDropped).toBe(base.lateDropped)
  expect(same.snapshotBytes[0]).toBeGreaterThan(1)
  if (s.sameParallelismOnly === true) return base.emitted
  const want = sorted(base.emitted)
  for (const [before, after] of RESCALES) {
    const r = runWithRestore({ ...o, before, after })
    expect(sorted(r.emitted), `${before} -> ${after} subtasks`).toEqual(want)
    expect(r.lateDropped, `${before} -> ${after} subtasks`).toBe(base.lateDropped)
  }
  return base.emitted
}

describe('operator snapshots restore the same run', () => {
  for (const s of SCENARIOS) it(s.name, () => void expectRestorable(s))

  it('keyed process: the scenario exercises what it claims to', () => {
    const out = runUninterrupted(options(scenario('keyed process, all state kinds'))).emitted
    const lines = out.map((e) => e.value as string)
    expect(lines.some((l) => l.includes('event timer'))).toBe(true)
    expect(lines.some((l) => l.includes('processing timer'))).toBe(true)
    expect(out.some((e) => e.side === 'late')).toBe(false)
    expect(lines.some((l) => l.includes('last=undefined') && l.includes('total=') && !l.includes('total=undefined'))).toBe(true)
  })

  it('sliding window: late records go to the side output', () => {
    const out = runUninterrupted(options(scenario('sliding event-time window, lateness and late side output'))).emitted
    expect(out.some((e) => e.side === 'late')).toBe(true)
  })

  it('tumbling window: late records are dropped and counted', () => {
    expect(runUninterrupted(options(scenario('tumbling event-time window, late records dropped'))).lateDropped).toBeGreaterThan(0)
  })

  it('session windows: a session merged across the snapshot, late by the restored watermark', () => {
    const out = runUninterrupted(options(scenario('session windows'))).emitted
    const b = SESSION_BRIDGE_BASE
    expect(out.map((e) => e.value)).toContainEqual({ k: 'bridge', start: b + 60, end: b + 320, r: [1, 2, 3] })
    // Late by the watermark reached before the snapshot (its session would end by b − 1 + 50).
    expect(out).toContainEqual(expect.objectContaining({ side: 'late', value: { k: 'late', t: b - 201, v: 4 } }))
    // Sessions of other keys merged too (a session longer than one gap holds several records).
    expect(out.filter((e) => e.side === '' && (e.value as { end: number; start: number }).end - (e.value as { start: number }).start > 200).length).toBeGreaterThan(5)
  })
})
