import { describe, expect, it } from 'vitest'
import { SluiceError } from '../errors.ts'
import { TimerQueue } from '../time/timer-service.ts'
import { keyGroupOf, keyGroupRange, ownsKeyGroups, subtaskOfKeyGroup } from './key-groups.ts'
import { decodeSnapshot, encodeSnapshotBytes, readOwned, SNAPSHOT_FORMAT_VERSION, SnapshotWriter, type OperatorSnapshot } from './snapshot.ts'

const all = () => true

/** The entries readOwned gives, copied (it reuses one tuple). */
const collect = (r: { entries: Iterable<readonly unknown[]> }): unknown[][] => Array.from(r.entries, (e) => [...e])

describe('snapshot encoding', () => {
  it('round-trips keys and values of any plain-data kind', () => {
    const w = new SnapshotWriter('test', 128)
    class Acc {
      constructor(public sum: number, public n: number) {}
    }
    const values: unknown[] = [
      0, 1, -1, 255, 65_536, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 2 ** 40, -(2 ** 40), 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, -0.1, 1e-300, -0,
      Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 12n, -(2n ** 70n), 'x', '', 'ünïcødé 🚰', 'é'.repeat(100), 'x'.repeat(300), true, false, null, undefined,
      [1, 'a', [2, [3]]], { a: 1, b: { c: [1, 2] }, 'not an identifier': 2, u: undefined },
      JSON.parse('{"__proto__": {"polluted": 1}, "y": 2}'),
      new Map<unknown, unknown>([[1, 'one'], ['1', 'string one'], [2.5, new Map([['nested', { x: 1 }]])]]),
      new Set([1, 'a', 3]), new Date(1_700_000_000_123), new Uint8Array([1, 2, 3]), new Float64Array([1.5, -2]),
      { nested: new Map([['m', 1]]), at: new Date(5) }, new Acc(3, 2),
    ]
    values.forEach((v, i) => w.add(i % 3, i % 2 === 0 ? i : `key-${i}`, v, { at: i }))
    // Many objects of one shape: their names are written once.
    for (let i = 0; i < 50; i++) w.add(9, 1000 + i, { start: i, end: i + 1, acc: { sum: i, count: 1 } })
    const s = w.finish({ current: 99, lastFiredEnd: Number.NEGATIVE_INFINITY })
    expect(s.entryCount).toBe(values.length + 50)
    const back = decodeSnapshot(encodeSnapshotBytes(s))
    expect(back.kind).toBe('test')
    expect(back.maxParallelism).toBe(128)
    expect(back.operatorState).toEqual({ current: 99, lastFiredEnd: Number.NEGATIVE_INFINITY })
    const restored = collect(readOwned([back], all, 'test'))
    expect(restored.length).toBe(values.length + 50)
    values.forEach((v, i) => {
      const e = restored[i]
      expect(e[0]).toBe(i)
      expect(e[1]).toBe(i % 3)
      expect(e[2]).toStrictEqual(i % 2 === 0 ? i : `key-${i}`)
      expect(e[4]).toStrictEqual({ at: i })
      if (v instanceof Acc) expect(e[3]).toStrictEqual({ sum: 3, n: 2 })
      else if (typeof v === 'number' || v === undefined || v === null) expect(Object.is(e[3], v)).toBe(true)
      else expect(e[3]).toEqual(v)
    })
    expect(restored.slice(values.length).map((e) => e[3])).toEqual(Array.from({ length: 50 }, (_, i) => ({ start: i, end: i + 1, acc: { sum: i, count: 1 } })))
    // toEqual glosses over types: spot-check them.
    const at = (v: unknown) => restored[values.indexOf(v)][3]
    const map = restored.find((e) => e[3] instanceof Map)?.[3] as Map<unknown, unknown>
    expect([...map.keys()]).toEqual([1, '1', 2.5])
    expect(at(values.find((v) => v instanceof Set))).toBeInstanceOf(Set)
    expect(at(values.find((v) => v instanceof Float64Array))).toBeInstanceOf(Float64Array)
    expect(at(12n)).toBe(12n)
    const nested = restored.find((e) => (e[3] as { nested?: unknown } | null)?.nested !== undefined)?.[3] as { nested: unknown; at: unknown }
    expect(nested.nested).toBeInstanceOf(Map)
    expect(nested.at).toBeInstanceOf(Date)
    // An own "__proto__" property comes back as a property, not as the prototype.
    const proto = restored.find((e) => (e[3] as { y?: number } | null)?.y === 2)?.[3] as object
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype)
    expect(Object.keys(proto)).toEqual(['__proto__', 'y'])
    expect(({} as { polluted?: number }).polluted).toBeUndefined()
  })

  it('is a copy: changing the operator after the snapshot does not change it', () => {
    const live = { n: 1 }
    const w = new SnapshotWriter('test', 8)
    w.add(0, 'k', live)
    const s = w.finish(null)
    live.n = 2
    expect(collect(readOwned([decodeSnapshot(encodeSnapshotBytes(s))], all, 'test'))[0][3]).toEqual({ n: 1 })
  })

  it('starts with the format version and refuses another', () => {
    const bytes = encodeSnapshotBytes(new SnapshotWriter('test', 8).finish(null))
    expect(bytes[0]).toBe(SNAPSHOT_FORMAT_VERSION)
    const other = bytes.slice()
    other[0] = SNAPSHOT_FORMAT_VERSION + 1
    expect(() => decodeSnapshot(other)).toThrow(/CHECKPOINT_INCOMPATIBLE: operator snapshot has format version 4; this Sluice reads versions 2 and 3/)
  })

  it('names the tables of a state backend\'s entries in its header', () => {
    const tables = [{ type: 'keyed', name: 'acc', kind: 'value', ttl: true }, { type: 'timers', name: 'ends', kind: 'timers', ttl: false }] as const
    const back = decodeSnapshot(encodeSnapshotBytes(new SnapshotWriter('test', 8).finish(null, tables)))
    expect(back.tables).toEqual(tables)
    expect(decodeSnapshot(encodeSnapshotBytes(new SnapshotWriter('test', 8).finish(null))).tables).toBeNull()
  })

  it('reports truncated or garbled bytes as corrupt', () => {
    const w = new SnapshotWriter('test', 8)
    for (let i = 0; i < 20; i++) w.add(0, i, { v: 'x'.repeat(20) })
    const bytes = encodeSnapshotBytes(w.finish(null))
    expect(() => collect(readOwned([decodeSnapshot(bytes.subarray(0, bytes.length >> 1))], all, 'test'))).toThrow(/corrupt/)
    expect(() => decodeSnapshot(bytes.subarray(0, 1))).toThrow(/corrupt/)
    expect(() => decodeSnapshot(new Uint8Array([SNAPSHOT_FORMAT_VERSION, 3, 0, 0, 0, 0x93, 1, 2]))).toThrow(/corrupt/)
    const garbled = bytes.slice()
    garbled[garbled.length - 30] = 0xee
    expect(() => collect(readOwned([decodeSnapshot(garbled)], all, 'test'))).toThrow(SluiceError)
    expect(() => decodeSnapshot(bytes.subarray(0, 1))).toThrow(/^CHECKPOINT_CORRUPT/)
  })

  it('refuses functions and symbols in state, naming the operator', () => {
    const w = new SnapshotWriter('pane-window', 8)
    expect(() => w.add(0, 'k', { f: () => 1 })).toThrow(/^STATE_NOT_PLAIN_DATA: cannot encode the state of a pane-window operator \(key "k"\): a function cannot be stored/)
    expect(() => w.add(0, 'k', Symbol('s'))).toThrow(/pane-window/)
    expect(() => w.add(0, 'k', new Map([['f', () => 1]]))).toThrow(/pane-window.*plain data/)
  })

  it('restores only the key groups asked for, in the order written', () => {
    const w = new SnapshotWriter('test', 16)
    // Objects of a new shape in every fifth entry: a skipped entry may define a shape a kept one uses.
    for (let k = 0; k < 200; k++) w.add(0, k, k % 5 === 0 ? { [`f${k % 20}`]: k } : k)
    const bytes = encodeSnapshotBytes(w.finish(null))
    for (let p = 1; p <= 3; p++) {
      for (let sub = 0; sub < p; sub++) {
        const owns = ownsKeyGroups(sub, 16, p)
        const got = collect(readOwned([decodeSnapshot(bytes)], owns, 'test'))
        const want = Array.from({ length: 200 }, (_, k) => k).filter((k) => owns(keyGroupOf(k, 16)))
        expect(got.map((e) => e[2])).toEqual(want)
        expect(got.map((e) => e[3])).toEqual(want.map((k) => (k % 5 === 0 ? { [`f${k % 20}`]: k } : k)))
      }
    }
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
    expect(collect(r).map((e) => e[3])).toEqual([5, 3, 9, 104, 101])
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
