/**
 * The contract every state backend keeps, as a vitest suite each backend's test file runs on its
 * own factory: tables, TTL, snapshots split by key group, restore (also into tables declared
 * later), size figures. Snapshots go through the byte format (encode, decode) as in a checkpoint.
 */
import { describe, expect, it } from 'vitest'
import { isSluiceError } from '../errors.ts'
import type { StateBackend, StateBackendFactory } from './backend.ts'
import { keyGroupOf, ownsKeyGroups } from './key-groups.ts'
import { decodeSnapshot, encodeSnapshotBytes, SnapshotWriter, type OperatorSnapshot } from './snapshot.ts'

const MAX_P = 16
const all = (): boolean => true

/** Settable clocks for TTL. */
class Clocks {
  processing = 1000
  event = Number.NEGATIVE_INFINITY
  readonly view = { processingNow: () => this.processing, eventNow: () => this.event }
}

/** A snapshot as a checkpoint stores it and a restoring subtask reads it. */
const roundTrip = (s: OperatorSnapshot): OperatorSnapshot => decodeSnapshot(encodeSnapshotBytes(s))

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f()
  } catch (e) {
    return isSluiceError(e) ? e.code : 'not a SluiceError'
  }
  return undefined
}

export function stateBackendContract(name: string, make: StateBackendFactory): void {
  const fresh = (clocks = new Clocks()): StateBackend => make(clocks.view)

  describe(`${name} state backend: tables`, () => {
    it('keyed tables put, get, change, delete and iterate', () => {
      const b = fresh()
      const t = b.keyed<string, { n: number }>('t')
      expect(t.get('a')).toBeUndefined()
      t.put('a', { n: 1 })
      t.put('b', { n: 2 })
      const a = t.get('a') as { n: number }
      a.n = 5
      t.changed('a', a)
      expect(t.get('a')).toEqual({ n: 5 })
      expect(t.size).toBe(2)
      t.delete('b')
      expect([...t.entries()]).toEqual([['a', { n: 5 }]])
      expect(b.keyed('t')).toBe(t)
      expect(b.entryCount()).toBe(1)
    })

    it('namespaced tables keep a keyed table per namespace; dropping one drops its entries', () => {
      const b = fresh()
      const t = b.namespaced<number, string>('panes')
      expect(t.findNamespace(10)).toBeUndefined()
      t.namespace(10).put(1, 'x')
      t.namespace(20).put(1, 'y')
      t.namespace(20).put(2, 'z')
      expect([...t.namespaces()]).toEqual([10, 20])
      expect(t.findNamespace(20)?.get(2)).toBe('z')
      expect(b.entryCount()).toBe(3)
      t.drop(10)
      expect(t.findNamespace(10)).toBeUndefined()
      expect(t.namespaceCount).toBe(1)
      expect(b.entryCount()).toBe(2)
    })

    it('refuses one name declared as two kinds, and a TTL that is not positive', () => {
      const b = fresh()
      b.keyed('s', { kind: 'value' })
      expect(codeOf(() => b.keyed('s', { kind: 'map' }))).toBe('STATE_DECLARATION_INVALID')
      expect(codeOf(() => b.keyed('t', { ttl: { ttlMs: 0 } }))).toBe('STATE_DECLARATION_INVALID')
    })

    it('samples [key, value] entries and counts them', () => {
      const b = fresh()
      const t = b.keyed<number, number>('t')
      for (let i = 0; i < 10; i++) t.put(i, i * i)
      expect(b.sample(3)).toEqual([[0, 0], [1, 1], [2, 4]])
      expect(b.entryCount()).toBe(10)
    })
  })

  describe(`${name} state backend: TTL`, () => {
    it('expires entries ttlMs after their last write, in processing time', () => {
      const c = new Clocks()
      const b = fresh(c)
      const t = b.keyed<string, number[]>('t', { ttl: { ttlMs: 100 } })
      t.put('a', [1])
      t.put('b', [2])
      c.processing += 60
      const a = t.get('a') as number[]
      a.push(3)
      t.changed('a', a)
      c.processing += 60
      expect(t.get('b')).toBeUndefined()
      expect(t.get('a')).toEqual([1, 3])
      expect([...t.entries()].map(([k]) => k)).toEqual(['a'])
      c.processing += 100
      expect(b.sweep()).toBe(1)
      expect(b.entryCount()).toBe(0)
    })

    it('expires in event time by the watermark', () => {
      const c = new Clocks()
      const b = fresh(c)
      const t = b.keyed<string, number>('t', { ttl: { ttlMs: 50, time: 'event' } })
      c.event = 0
      t.put('a', 1)
      c.processing += 1_000_000
      expect(t.get('a')).toBe(1)
      c.event = 50
      expect(t.get('a')).toBeUndefined()
    })

    it('leaves expired entries out of snapshots and keeps the expiry of the others', () => {
      const c = new Clocks()
      const b = fresh(c)
      const t = b.keyed<string, number>('t', { ttl: { ttlMs: 100 } })
      t.put('old', 1)
      c.processing += 80
      t.put('new', 2)
      c.processing += 30
      const restored = fresh(c)
      restored.restore([roundTrip(b.snapshot('op', MAX_P, null))], all, 'op')
      const r = restored.keyed<string, number>('t', { ttl: { ttlMs: 100 } })
      expect([...r.entries()]).toEqual([['new', 2]])
      c.processing += 69
      expect(r.get('new')).toBe(2)
      c.processing += 1
      expect(r.get('new')).toBeUndefined()
    })
  })

  describe(`${name} state backend: snapshots`, () => {
    /** A backend holding keyed, namespaced and timer state over 60 keys. */
    const filled = (): StateBackend => {
      const b = fresh()
      const acc = b.keyed<string, { sum: number }>('acc')
      const panes = b.namespaced<number, number[]>('panes')
      const timers = b.timers<number>('ends')
      for (let k = 59; k >= 0; k--) {
        acc.put(`k${k}`, { sum: k })
        panes.namespace(k % 3 === 0 ? 2000 : 1000).put(k, [k, k + 1])
        timers.register(500 - (k % 4), k)
      }
      return b
    }
    const declare = (b: StateBackend) => ({ acc: b.keyed<string, { sum: number }>('acc'), panes: b.namespaced<number, number[]>('panes'), timers: b.timers<number>('ends') })

    it('restore the same state in the same order at the same parallelism', () => {
      const b = filled()
      const s = roundTrip(b.snapshot('op', MAX_P, { mark: 7 }))
      const r = fresh()
      const t = declare(r)
      expect(r.restore([s], all, 'op')).toEqual([{ mark: 7 }])
      const o = declare(b)
      expect([...t.acc.entries()]).toEqual([...o.acc.entries()])
      expect([...t.panes.namespaces()]).toEqual([...o.panes.namespaces()])
      for (const ns of o.panes.namespaces()) expect([...(t.panes.findNamespace(ns)?.entries() ?? [])]).toEqual([...(o.panes.findNamespace(ns)?.entries() ?? [])])
      expect(t.timers.entries()).toEqual(o.timers.entries())
      expect(r.entryCount()).toBe(b.entryCount())
    })

    it('is a copy: changes after the snapshot do not reach it', () => {
      const b = fresh()
      const t = b.keyed<string, { n: number }>('t')
      t.put('a', { n: 1 })
      const s = b.snapshot('op', MAX_P, null)
      ;(t.get('a') as { n: number }).n = 2
      const r = fresh()
      r.restore([roundTrip(s)], all, 'op')
      expect(r.keyed<string, { n: number }>('t').get('a')).toEqual({ n: 1 })
    })

    it('split by key group: every entry lands in the one new subtask owning its key', () => {
      const parts = [roundTrip(filled().snapshot('op', MAX_P, null))]
      const seen = new Map<string, number>()
      for (let sub = 0; sub < 3; sub++) {
        const owns = ownsKeyGroups(sub, MAX_P, 3)
        const r = fresh()
        const t = declare(r)
        r.restore(parts, owns, 'op')
        for (const [k, v] of t.acc.entries()) {
          expect(owns(keyGroupOf(k, MAX_P))).toBe(true)
          expect(v).toEqual({ sum: Number(k.slice(1)) })
          seen.set(k, sub)
        }
        for (const ns of t.panes.namespaces()) for (const [k] of t.panes.findNamespace(ns)?.entries() ?? []) expect(owns(keyGroupOf(k, MAX_P))).toBe(true)
        for (const [, k] of t.timers.entries()) expect(owns(keyGroupOf(k, MAX_P))).toBe(true)
      }
      expect(seen.size).toBe(60)
    })

    it('merges the parts of several old subtasks', () => {
      const one = fresh()
      const two = fresh()
      one.keyed<number, string>('t').put(1, 'one')
      two.keyed<number, string>('t').put(2, 'two')
      const r = fresh()
      const states = r.restore([roundTrip(one.snapshot('op', MAX_P, { at: 1 })), roundTrip(two.snapshot('op', MAX_P, { at: 2 }))], all, 'op')
      expect(states).toEqual([{ at: 1 }, { at: 2 }])
      expect([...r.keyed<number, string>('t').entries()]).toEqual([[1, 'one'], [2, 'two']])
    })

    it('keeps restored entries of tables not declared yet, for a later declaration or snapshot', () => {
      const b = fresh()
      b.keyed<string, number>('late', { kind: 'value' }).put('a', 1)
      b.timers<string>('later').register(5, 'a')
      const r = fresh()
      r.restore([roundTrip(b.snapshot('op', MAX_P, null))], all, 'op')
      expect(r.entryCount()).toBe(0)
      const again = fresh()
      again.restore([roundTrip(r.snapshot('op', MAX_P, null))], all, 'op')
      expect(again.keyed<string, number>('late', { kind: 'value' }).get('a')).toBe(1)
      expect(again.timers<string>('later').entries()).toEqual([[5, 'a']])
      expect(codeOf(() => r.keyed('late', { kind: 'list' }))).toBe('CHECKPOINT_INCOMPATIBLE')
    })

    it('refuses another operator kind; reads an operator\'s own layout only through its reader', () => {
      const s = roundTrip(filled().snapshot('op', MAX_P, null))
      expect(codeOf(() => fresh().restore([s], all, 'other'))).toBe('CHECKPOINT_INCOMPATIBLE')
      const w = new SnapshotWriter('op', MAX_P)
      w.add(0, 'k', 41)
      const own = roundTrip(w.finish(null))
      expect(codeOf(() => fresh().restore([own], all, 'op'))).toBe('CHECKPOINT_INCOMPATIBLE')
      const r = fresh()
      const t = r.keyed<string, number>('t')
      r.restore([own], all, 'op', (e) => t.put(e[2] as string, (e[3] as number) + 1))
      expect(t.get('k')).toBe(42)
    })
  })
}
