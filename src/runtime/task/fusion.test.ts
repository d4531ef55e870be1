import { describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { fromArray } from '../../connectors/array-source.ts'
import { memorySink } from '../../testing/index.ts'

function build(onError: 'fail' | 'skip' = 'fail'): { p: Pipeline; sink: ReturnType<typeof memorySink<string>> } {
  const p = new Pipeline('fused')
  const sink = memorySink<string>()
  p.source('n', fromArray([1, 2, 3, 4, 5, 6, 7, 8]))
    .map('triple', (x) => x * 3)
    .filter('not-nine', (x) => {
      if (x === 9) throw new Error('nine is not allowed')
      return x % 2 === 0
    }, { onError })
    .flatMap<string>('twice', (x, out) => {
      out.collect(`${x}`)
      out.collect(`${x}!`)
    })
    .to('out', sink)
  return { p, sink }
}

describe('operator fusion', () => {
  it('runs map, filter and flatMap as one fused link', () => {
    expect(build().p.explain()).toMatch(/triple\+not-nine\+twice \[fused\(map, filter, flatMap\)\] -> out/)
  })

  it('keeps each stage’s metrics', async () => {
    const { p, sink } = build('skip')
    const r = await p.run().done
    expect(sink.records).toEqual(['6', '6!', '12', '12!', '18', '18!', '24', '24!'])
    const m = (id: string) => r.metrics.operators.find((o) => o.operator === id)
    expect(m('triple')).toMatchObject({ recordsIn: 8, recordsOut: 8 })
    expect(m('not-nine')).toMatchObject({ recordsIn: 8, recordsOut: 4, errors: 1, skipped: 1 })
    expect(m('twice')).toMatchObject({ recordsIn: 4, recordsOut: 8 })
    expect(m('out')).toMatchObject({ recordsIn: 8 })
  })

  it('a failure inside a fused run names the stage and its own input record', async () => {
    const { p } = build('fail')
    await expect(p.run().done).rejects.toThrow(/RECORD_FAILED: operator "not-nine" failed on input record #3: nine is not allowed; record: 9/)
  })

  it('gives the same results as the unfused chain', async () => {
    const input = Array.from({ length: 5000 }, (_, i) => i)
    const run = async (fuse: boolean): Promise<number[]> => {
      const p = new Pipeline('f')
      const sink = memorySink<number>()
      p.source('n', fromArray(input)).map('a', (x) => x + 1).filter('b', (x) => x % 3 !== 0).map('c', (x) => x * 2).to('o', sink)
      await p.run({ fuse }).done
      return sink.records
    }
    const fused = await run(true)
    expect(fused.length).toBe(3334)
    expect(fused).toEqual(await run(false))
  })
})
