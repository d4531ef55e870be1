import { describe, expect, it } from 'vitest'
import { Pipeline } from '../api/pipeline.ts'
import { fromArray } from '../connectors/array-source.ts'
import { nexmarkSource } from '../nexmark/source.ts'
import { memorySink } from '../testing/index.ts'
import { count } from '../operators/aggregate.ts'
import type { Sink } from '../connectors/spi.ts'

describe('physical plan', () => {
  it('explains chains, parallelism and exchanges', () => {
    const p = new Pipeline('plan', { parallelism: 3 })
    p.source('gen', nexmarkSource({ events: 10 }))
      .filter('bids', (e) => e.event_type === 2)
      .map('bid', (e) => e.bid!)
      .keyBy((b) => b.auction)
      .aggregate('count', count())
      .to('out', memorySink())
    expect(p.explain()).toBe(
      [
        'job "plan"',
        'task 0 (parallelism 3): gen [source nexmark] -> bids+bid [fused(filter, map)]',
        '    bid -> count: hash (keyBy, by key group) exchange, 3 -> 3 subtasks',
        'task 1 (parallelism 3): count [aggregate]',
        '    count -> out: rebalance exchange, 3 -> 1 subtasks',
        'task 2 (parallelism 1): out [sink(memory)]',
      ].join('\n'),
    )
  })

  it('a source that cannot split runs at parallelism 1; asking for more is an error', () => {
    const p = new Pipeline('plan', { parallelism: 4 })
    p.source('arr', fromArray([1, 2, 3])).map('m', (x) => x).to('out', memorySink())
    expect(p.explain()).toMatch(/task 0 \(parallelism 1\): arr \[source array\]\n    arr -> m: rebalance exchange, 1 -> 4 subtasks/)
    const q = new Pipeline('plan')
    q.source('arr', fromArray([1])).parallelism(2).to('out', memorySink())
    expect(() => q.run()).toThrow(/PARALLELISM_INVALID: source "arr" \(array\) cannot be split/)
  })

  it('disableChaining and startNewChain split chains', () => {
    const p = new Pipeline('plan')
    p.source('arr', fromArray([1])).map('a', (x) => x).map('b', (x) => x).disableChaining().map('c', (x) => x).startNewChain().to('out', memorySink())
    const text = p.explain()
    expect(text).toMatch(/task 0 \(parallelism 1\): arr \[source array\] -> a \[map\]\n/)
    expect(text).toMatch(/task 1 \(parallelism 1\): b \[map\]\n/)
    expect(text).toMatch(/task 2 \(parallelism 1\): c \[map\] -> out \[sink\(memory\)\]/)
  })

  it('rebalance spreads batches over subtasks; broadcast copies every record to each', async () => {
    const input = Array.from({ length: 10_000 }, (_, i) => i)
    const p = new Pipeline('plan')
    const spread = memorySink<number>()
    const copies = memorySink<number>()
    const src = p.source('arr', fromArray(input, { batchSize: 100 }), { batchSize: 100 })
    src.rebalance().map('r', (x) => x).parallelism(4).to('spread', spread)
    src.broadcast().map('b', (x) => x).parallelism(3).to('copies', copies)
    const r = await p.run().done
    expect(spread.records.sort((a, b) => a - b)).toEqual(input)
    const perSubtask = r.metrics.operators.filter((o) => o.operator === 'r').map((o) => o.recordsIn)
    expect(perSubtask).toHaveLength(4)
    for (const n of perSubtask) expect(n).toBe(2500)
    expect(copies.records.length).toBe(30_000)
  })

  it('keyed operators see each key in exactly one subtask', async () => {
    const input = Array.from({ length: 20_000 }, (_, i) => ({ k: i % 97, v: 1 }))
    const p = new Pipeline('plan', { parallelism: 4 })
    const out = memorySink<{ key: number; value: number }>()
    p.source('gen', nexmarkSource({ events: 1 })).to('ignore', memorySink())
    p.source('arr', fromArray(input)).rebalance().map('spread', (x) => x).parallelism(4).keyBy((x) => x.k).aggregate('count', count()).to('out', out)
    const r = await p.run().done
    const last = new Map<number, number>()
    for (const row of out.records) last.set(row.key, row.value)
    expect(last.size).toBe(97)
    for (const [k, n] of last) expect(n).toBe(input.filter((x) => x.k === k).length)
    const used = r.metrics.operators.filter((o) => o.operator === 'count' && o.recordsIn > 0)
    expect(used.length).toBe(4)
  })

  it('a parallel sink runs at the job parallelism, chained, each writer told its subtask; other sinks run at 1', async () => {
    const opened: string[] = []
    const written = new Map<number, number>()
    const parallelSink: Sink<number> = {
      kind: 'shards',
      parallel: true,
      open: (ctx) => {
        opened.push(`${ctx.subtaskIndex}/${ctx.parallelism}`)
        return { write: (batch) => void written.set(ctx.subtaskIndex, (written.get(ctx.subtaskIndex) ?? 0) + batch.length) }
      },
    }
    const p = new Pipeline('plan', { parallelism: 2 })
    const src = p.source('gen', nexmarkSource({ events: 10_000 }))
    src.map('a', (e) => e.event_type).to('shards', parallelSink)
    src.map('b', (e) => e.event_type).to('one', memorySink())
    const text = p.explain()
    expect(text).toMatch(/parallelism 2\): a \[map\] -> shards \[sink\(shards\)\]/)
    expect(text).toMatch(/b -> one: rebalance exchange, 2 -> 1 subtasks/)
    await p.run().done
    expect(opened.sort()).toEqual(['0/2', '1/2'])
    expect((written.get(0) ?? 0) + (written.get(1) ?? 0)).toBe(10_000)
    expect(written.get(0)).toBeGreaterThan(0)
    expect(written.get(1)).toBeGreaterThan(0)
  })

  it('a sink that cannot take parallel writers refuses a parallelism above 1', () => {
    const p = new Pipeline('plan')
    p.source('arr', fromArray([1])).to('out', memorySink(), { parallelism: 2 })
    expect(() => p.run()).toThrow(/PARALLELISM_INVALID: sink "out" \(memory\) cannot run as parallel writers/)
    const q = new Pipeline('plan')
    expect(() => q.source('arr', fromArray([1])).to('out', memorySink(), { parallelism: 0 })).toThrow(/parallelism must be a whole number/)
  })
})
