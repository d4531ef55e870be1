import { describe, expect, it } from 'vitest'
import { SluiceError } from '../errors.ts'
import { TimerQueue } from '../time/timer-service.ts'
import { keyGroupOf, keyGroupRange, ownsKeyGroups, subtaskOfKeyGroup } from './key-groups.ts'
import { HeapKeyedStateBackend } from './keyed-state.ts'
import { decodeSnapshot, encodeSnapshot, readOwned, SNAPSHOT_FORMAT_VERSION, SnapshotWriter, type OperatorSnapshot } from './snapshot.ts'

const all = () => true

describe('snapshot encoding', () => {
  it('round-trips keys and values of any plain-data kind', () => {
    const w = new SnapshotWriter('test', 128)
    const values: unknown[] = [
      0, 1, -1, 255, 65_536, 2 ** 31, -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, -0.1, 1e-300,
      Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 12n, -(2n ** 70n), 'x', '', 'ünïcødé 🚰', true, false, null, undefined,
      [1, 'a', [2, [3]]], { a: 1, b: { c: [1, 2] }, 'not an identifier': 2, u: undefined },
      new Map<unknown, unknown>([[1, 'one'], ['1', 'string one'], [2.5, new Map([['nested', { x: 1 }]])]]),
      new Set([1, 'a', 3]), new Date(1_700_000_000_123), new Uint8Array([1, 2, 3]), new Float64Array([1.5, -2]),
    ]
    values.forEach((v, i) => w.add(i % 3, i % 2 === 0 ? i : `key-${i}`, v, { at: i }))
    // Many objects of one shape: msgpackr's default build would compile a reader for them.
    for (let i = 0; i < 50; i++) w.add(9, 1000 + i, { start: i, end: i + 1, acc: { sum: i, count: 1 } })
    const s = w.finish({ current: 99, lastFiredEnd: Number.NEGATIVE_INFINITY })
    const back = decodeSnapshot(encodeSnapshot(s))
    expect(back.kind).toBe('test')
    expect(back.maxParallelism).toBe(128)
    expect(back.operatorState).toEqual({ current: 99, lastFiredEnd: Number.NEGATIVE_INFINITY })
    expect([...back.keyGroups.keys()].sort((a, b) => a - b)).toEqual([...s.keyGroups.keys()].sort((a, b) => a - b))
    for (const [g, entries] of s.keyGroups) expect(back.keyGroups.get(g)).toEqual(entries)
    // toEqual treats Map keys 1 and '1' apart and checks types; spot-check what it glosses over.
    const restored = readOwned([back], all, 'test').entries
    const original = readOwned([s], all, 'test').entries
    expect(restored.length).toBe(original.length)
    for (let i = 0; i < original.length; i++) {
      expect(restored[i][2]).toStrictEqual(original[i][2])
      expect(Object.is(restored[i][3], original[i][3]) || typeof original[i][3] === 'object').toBe(true)
    }
    const map = restored.find((e) => e[3] instanceof Map)?.[3] as Map<unknown, unknown>
    expect([...map.keys()]).toEqual([1, '1', 2.5])
    expect(restored.some((e) => e[3] instanceof Set)).toBe(true)
    expect(restored.some((e) => e[3] instanceof Date)).toBe(true)
    expect(restored.some((e) => e[3] instanceof Float64Array)).toBe(true)
  })

  it('starts with the format version and refuses another', () => {
    const bytes = encodeSnapshot(new SnapshotWriter('test', 8).finish(null))
    expect(bytes[0]).toBe(SNAPSHOT_FORMAT_VERSION)
    const other = bytes.slice()
    other[0] = SNAPSHOT_FORMAT_VERSION + 1
    expect(() => decodeSnapshot(other)).toThrow(/format version 2/)
  })

  it('reports truncated or garbled bytes as corrupt', () => {
    const w = new SnapshotWriter('test', 8)
    for (let i = 0; i < 20; i++) w.add(0, i, { v: 'x'.repeat(20) })
    const bytes = encodeSnapshot(w.finish(null))
    expect(() => decodeSnapshot(bytes.subarray(0, bytes.length >> 1))).toThrow(SluiceError)
    expect(() => decodeSnapshot(bytes.subarray(0, 1))).toThrow(/corrupt/)
    expect(() => decodeSnapshot(new Uint8Array([SNAPSHOT_FORMAT_VERSION, 0x93, 1, 2, 3]))).toThrow(/corrupt/)
  })

  it('refuses functions and symbols in state, naming the operator', () => {
    const w = new SnapshotWriter('pane-window', 8)
    w.add(0, 'k', { f: () => 1 })
    expect(() => encodeSnapshot(w.finish(null))).toThrow(/pane-window.*plain data/)
    const v = new SnapshotWriter('pane-window', 8)
    v.add(0, 'k', Symbol('s'))
    expect(() => encodeSnapshot(v.finish(null))).toThrow(/pane-window/)
  })

  it('decodes only the key groups asked for', () => {
    const w = new SnapshotWriter('test', 16)
    for (let k = 0; k < 200; k++) w.add(0, k, k)
    const bytes = encodeSnapshot(w.finish(null))
    const owns = ownsKeyGroups(1, 16, 3)
    const part = decodeSnapshot(bytes, owns)
    expect(part.keyGroups.size).toBeGreaterThan(0)
    for (const g of part.keyGroups.keys()) expect(owns(g)).toBe(true)
    const keys = readOwned([part], all, 'test').entries.map((e) => e[2])
    expect(keys).toEqual(Array.from({ length: 200 }, (_, k) => k).filter((k) => owns(keyGroupOf(k, 16))))
  })
})

describe('restoring from parts', () => {
  const part = (kind: string, maxP: number, keys: number[], base = 0): OperatorSnapshot => {
    const w = new SnapshotWriter(kind, maxP)
    for (const k of keys) w.add(0, k, base + k)
    return w.finish({ mark: base })
  }

  it('keeps each part in the order written, parts one after another', () => {
    const r = readOwned([part('x', 8, [5, 3, 9]), part('x', 8, [4, 1], 100)], all, 'x')
    expect(r.entries.map((e) => e[3])).toEqual([5, 3, 9, 104, 101])
    expect(r.operatorStates).toEqual([{ mark: 0 }, { mark: 100 }])
  })

  it('refuses another kind of operator or another number of key groups', () => {
    expect(() => readOwned([part('pane-window', 8, [1])], all, 'session-window')).toThrow(/session-window .*pane-window/)
    expect(() => readOwned([part('x', 8, [1]), part('x', 16, [1])], all, 'x')).toThrow(/maxParallelism/)
  })
})

describe('key-group ranges', () => {
  it('agree with subtaskOfKeyGroup for every parallelism', () => {
    for (const maxP of [1, 7, 128]) {
      for (let p = 1; p <= Math.min(maxP, 10); p++) {
        for (let g = 0; g < maxP; g++) {
          const s = subtaskOfKeyGroup(g, maxP, p)
          const { start, end } = keyGroupRange(s, maxP, p)
          expect(g >= start && g < end).toBe(true)
          expect(ownsKeyGroups(s, maxP, p)(g)).toBe(true)
          if (p > 1) expect(ownsKeyGroups((s + 1) % p, maxP, p)(g)).toBe(false)
        }
      }
    }
  })
})

describe('timer queue entries', () => {
  it('list pending timers by time, then registration order, without deleted ones', () => {
    const q = new TimerQueue<string>()
    q.register(30, 'a')
    q.register(10, 'b')
    q.register(30, 'c')
    q.register(10, 'a')
    q.register(20, 'x')
    q.delete(20, 'x')
    q.delete(30, 'a')
    expect(q.entries()).toEqual([
      [10, 'b'],
      [10, 'a'],
      [30, 'c'],
    ])
    const copy = new TimerQueue<string>()
    for (const [t, k] of q.entries()) copy.register(t, k)
    expect(copy.entries()).toEqual(q.entries())
    expect(copy.size).toBe(q.size)
  })
})

describe('heap keyed state snapshots', () => {
  const visitAll = (b: HeapKeyedStateBackend<string>) => {
    const out: unknown[] = []
    b.forEachEntry((name, kind, key, value, expiry) => out.push([name, kind, key, value, expiry]))
    return out
  }

  it('skip expired entries and keep expiry times', () => {
    let now = 0
    const b = new HeapKeyedStateBackend<string>(() => now, () => 0)
    const v = b.value<number>('v', { ttl: { ttlMs: 100 } })
    const plain = b.list<number>('l')
    b.currentKey = 'a'
    v.set(1)
    plain.add(1)
    now = 50
    b.currentKey = 'b'
    v.set(2)
    now = 120
    expect(visitAll(b)).toEqual([
      ['v', 'value', 'b', 2, 150],
      ['l', 'list', 'a', [1], null],
    ])
  })

  it('restore into tables declared later, and keep undeclared ones for the next snapshot', () => {
    const now = 1000
    const b = new HeapKeyedStateBackend<string>(() => now, () => 0)
    b.restoreEntry('v', 'value', 'a', 7, 1100)
    b.restoreEntry('m', 'map', 'a', new Map([[1, 2]]), null)
    b.restoreEntry('gone', 'value', 'a', 'still here', null)
    const v = b.value<number>('v', { ttl: { ttlMs: 500 } })
    const m = b.map<number, number>('m', { ttl: { ttlMs: 500 } })
    b.currentKey = 'a'
    expect(v.get()).toBe(7)
    expect(m.get(1)).toBe(2)
    expect(visitAll(b)).toEqual([
      ['v', 'value', 'a', 7, 1100],
      // Written without a TTL, restored under one: the TTL starts at the restore.
      ['m', 'map', 'a', new Map([[1, 2]]), 1500],
      ['gone', 'value', 'a', 'still here', null],
    ])
    expect(() => b.list('gone')).toThrow(/restored as value state/)
  })
})
