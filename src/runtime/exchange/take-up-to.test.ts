/**
 * Taking part of a batch (InChannel.takeUpTo, for an asynchronous head that has room for fewer
 * records than a batch holds), on a same-thread channel and on a ring between threads: the parts
 * come in order, the rest stays first in line (before any control item behind it), capacity is
 * given back as records are taken, and a barrier taken past a partly taken batch returns its rest.
 */
import { describe, expect, it } from 'vitest'
import type { Batch } from '../../operators/types.ts'
import { codecFor } from './codec/index.ts'
import { BarrierItem, END, LocalChannel, isControl, type ChannelItem, type InChannel } from './channel.ts'
import { RingInChannel, RingOutChannel } from './ring-channel.ts'
import { SabRing } from './ring/sab-ring.ts'

const batch = (from: number, n: number): Batch<unknown> => ({ records: Array.from({ length: n }, (_, i) => from + i), times: Array.from({ length: n }, (_, i) => 1000 + from + i) })

/** Each item as text: "b:1,2,3" for a batch (its times checked against its records), or the control item's kind. */
function show(item: ChannelItem<unknown>): string {
  if (isControl(item)) return item instanceof BarrierItem ? `barrier ${item.id}` : item === END ? 'end' : 'control'
  const b = item as Batch<unknown>
  expect(b.times).toEqual(b.records.map((r) => 1000 + (r as number)))
  return `b:${b.records.join(',')}`
}

interface Pair {
  readonly send: { sendBatch(b: Batch<unknown>): void; sendControl(c: BarrierItem | typeof END): void }
  readonly inp: InChannel<unknown>
}

function local(): Pair {
  const ch = new LocalChannel<unknown>('local', 1000)
  return { send: ch, inp: ch }
}

function ring(): Pair {
  const r = SabRing.create({ capacityBytes: 64 * 1024, capacityRecords: 1000 })
  const codec = codecFor<unknown>()
  return { send: new RingOutChannel('ring', r, codec, 1000), inp: new RingInChannel('ring', SabRing.attach(r.buffer), codec) }
}

describe.each([['a same-thread channel', local], ['a ring between threads', ring]])('takeUpTo on %s', (_name, make) => {
  it('takes a batch in parts of at most max records, in order, and the rest before what follows it', () => {
    const { send, inp } = make()
    send.sendBatch(batch(0, 5))
    send.sendControl(new BarrierItem(7))
    send.sendBatch(batch(5, 2))
    send.sendControl(END)
    const got = [inp.takeUpTo(2), inp.takeUpTo(1), inp.takeUpTo(3), inp.takeUpTo(1), inp.takeUpTo(5), inp.takeUpTo(5)].map(show)
    expect(got).toEqual(['b:0,1', 'b:2', 'b:3,4', 'barrier 7', 'b:5,6', 'end'])
    expect(inp.isEmpty).toBe(true)
  })

  it('take after a partial take returns the rest of the batch', () => {
    const { send, inp } = make()
    send.sendBatch(batch(0, 4))
    expect(show(inp.takeUpTo(1))).toBe('b:0')
    expect(show(inp.take())).toBe('b:1,2,3')
    expect(inp.isEmpty).toBe(true)
  })

  it('a barrier taken past a partly taken batch returns the rest of it, then the batches behind it; they are still taken after', () => {
    const { send, inp } = make()
    send.sendBatch(batch(0, 4))
    send.sendBatch(batch(4, 2))
    send.sendControl(new BarrierItem(3))
    send.sendBatch(batch(6, 1))
    expect(show(inp.takeUpTo(3))).toBe('b:0,1,2')
    expect(inp.barrierAhead?.()).toBe(3)
    expect((inp.overtakeBarrier?.() ?? []).map(show)).toEqual(['b:3', 'b:4,5'])
    expect(inp.barrierAhead?.()).toBeNull()
    expect([inp.takeUpTo(10), inp.takeUpTo(10), inp.takeUpTo(10)].map(show)).toEqual(['b:3', 'b:4,5', 'b:6'])
    expect(inp.isEmpty).toBe(true)
  })
})

describe('takeUpTo on a same-thread channel', () => {
  it('gives capacity back as records are taken, not when the batch is done', () => {
    const ch = new LocalChannel<unknown>('local', 1000)
    const queued = (): number => Math.round(ch.usage * 1000)
    const inp = ch
    ch.sendBatch(batch(0, 10))
    expect(queued()).toBe(10)
    inp.takeUpTo(4)
    expect(queued()).toBe(6)
    inp.takeUpTo(4)
    expect(queued()).toBe(2)
    inp.takeUpTo(4)
    expect(queued()).toBe(0)
  })
})

describe('a barrier sent behind data a full ring had no room for', () => {
  it('takes that data into the ring over its records budget, then the barrier, so the consumer can look through to it', () => {
    const r = SabRing.create({ capacityBytes: 64 * 1024, capacityRecords: 10 })
    const codec = codecFor<unknown>()
    const out = new RingOutChannel('ring', r, codec, 10)
    const inp = new RingInChannel('ring', SabRing.attach(r.buffer), codec)
    out.sendBatch(batch(0, 8))
    out.sendBatch(batch(8, 5)) // 13 > 10: waits in the channel
    expect(out.full).toBe(true)
    expect(inp.barrierAhead()).toBeNull()
    out.sendControl(new BarrierItem(1))
    expect(out.drained).toBe(true)
    expect(inp.barrierAhead()).toBe(1)
    expect(inp.overtakeBarrier().map(show)).toEqual(['b:0,1,2,3,4,5,6,7', 'b:8,9,10,11,12'])
    expect([inp.take(), inp.take()].map(show)).toEqual(['b:0,1,2,3,4,5,6,7', 'b:8,9,10,11,12'])
    expect(inp.isEmpty).toBe(true)
  })
})
