import { describe, expect, it } from 'vitest'
import { heapStateBackend } from './heap-backend.ts'
import { KeyedStateHandles } from './keyed-state.ts'
import { decodeSnapshot, encodeSnapshotBytes } from './snapshot.ts'

const all = () => true

function handles(clock: { now: number }) {
  const backend = heapStateBackend({ processingNow: () => clock.now, eventNow: () => 0 })
  return { backend, state: new KeyedStateHandles<string>(backend) }
}

describe('keyed state handles', () => {
  it('read and write the entry of the current key', () => {
    const { state } = handles({ now: 0 })
    const v = state.value<number>('v')
    const m = state.map<string, number>('m')
    const l = state.list<number>('l')
    const r = state.reducing<number>('r', (a, b) => a + b)
    state.currentKey = 'a'
    v.set(1)
    m.set('x', 1)
    l.add(1)
    r.add(1)
    state.currentKey = 'b'
    expect([v.get(), m.get('x'), l.get(), r.get()]).toEqual([undefined, undefined, [], undefined])
    r.add(2)
    r.add(3)
    expect(r.get()).toBe(5)
    state.currentKey = 'a'
    l.add(2)
    m.delete('x')
    expect([v.get(), m.size(), l.get(), r.get()]).toEqual([1, 0, [1, 2], 1])
  })

  it('a change of a map or list restarts its TTL; expired state is gone and left out of snapshots', () => {
    const clock = { now: 0 }
    const { backend, state } = handles(clock)
    const m = state.map<number, number>('m', { ttl: { ttlMs: 100 } })
    const l = state.list<number>('l')
    state.currentKey = 'a'
    m.set(1, 1)
    l.add(1)
    clock.now = 50
    state.currentKey = 'b'
    m.set(1, 2)
    clock.now = 90
    state.currentKey = 'a'
    m.set(2, 2)
    clock.now = 160
    state.currentKey = 'b'
    expect(m.get(1)).toBeUndefined()
    state.currentKey = 'a'
    expect([...m.entries()]).toEqual([[1, 1], [2, 2]])
    const restored = handles(clock)
    restored.backend.restore([decodeSnapshot(encodeSnapshotBytes(backend.snapshot('keyed-process', 8, null)))], all, 'keyed-process')
    const rm = restored.state.map<number, number>('m', { ttl: { ttlMs: 100 } })
    restored.state.currentKey = 'b'
    expect(rm.size()).toBe(0)
    restored.state.currentKey = 'a'
    expect(rm.get(2)).toBe(2)
    clock.now = 190
    expect(rm.get(2)).toBeUndefined()
    expect(restored.state.list<number>('l').get()).toEqual([1])
  })

  it('state restored before its declaration waits for it; another kind under its name is refused', () => {
    const clock = { now: 1000 }
    const old = handles(clock)
    old.state.currentKey = 'a'
    old.state.value<number>('v').set(7)
    old.state.map<number, number>('m').set(1, 2)
    const parts = [decodeSnapshot(encodeSnapshotBytes(old.backend.snapshot('keyed-process', 8, null)))]
    const { backend, state } = handles(clock)
    backend.restore(parts, all, 'keyed-process')
    state.currentKey = 'a'
    // Written without a TTL, restored under one: the TTL starts at the restore.
    const m = state.map<number, number>('m', { ttl: { ttlMs: 500 } })
    expect(m.get(1)).toBe(2)
    clock.now = 1500
    expect(m.get(1)).toBeUndefined()
    expect(() => state.list('v')).toThrow(/CHECKPOINT_INCOMPATIBLE: state "v" was restored as value state and is now declared as list state/)
    expect(state.value<number>('v').get()).toBe(7)
    expect(() => state.map('v')).toThrow(/STATE_DECLARATION_INVALID: state "v" was declared as value state and again as map state/)
  })
})
