/**
 * Records a sink cannot encode (defect 6): a valid record nested 20 000 deep, a cyclic one, a
 * BigInt. They used to fail the sink as SINK_IO ("check … writable and has space"), be retried
 * three times and fail the job whatever the error policies said. Now they go through the sink's
 * onError policy as user errors.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../../api/pipeline.ts'
import { fileSink } from '../../connectors/file-sink.ts'
import { generatorSource } from '../../connectors/generator-source.ts'
import { stdoutSink } from '../../connectors/stdout-sink.ts'
import type { ErrorPolicy } from '../../connectors/spi.ts'
import { isSluiceError } from '../../errors.ts'
import { operatorTotal } from '../../metrics/task-metrics.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-unwritable-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function deep(levels: number): unknown {
  let v: unknown = { leaf: true }
  for (let i = 0; i < levels; i++) v = { a: v }
  return v
}

function cyclic(): unknown {
  const o: Record<string, unknown> = { name: 'loop' }
  o.self = o
  return o
}

const rows = (path: string): Record<string, unknown>[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as Record<string, unknown>)

/** Records 0..4, record 2 being `bad`, through a map into a file sink with the given policy. */
function job(name: string, bad: () => unknown, onError: ErrorPolicy): { p: Pipeline; out: string; dead: string } {
  const out = join(dir, `${name}.jsonl`)
  const dead = join(dir, `${name}-dead.jsonl`)
  const p = new Pipeline(name)
  p.source('n', generatorSource((i) => i, { count: 5 }))
    .map('build', (i) => (i === 2 ? bad() : { i }))
    .to('out', fileSink(out), { onError, deadLetter: fileSink(dead) })
  return { p, out, dead }
}

describe('a record the sink cannot encode', () => {
  it('nested 20 000 deep, under onError fail: a user error naming the sink and the record, not retried', async () => {
    const { p } = job('deep-fail', () => deep(20_000), 'fail')
    const handle = p.run({ restart: { attempts: 3, delayMs: 0 } })
    let restarts = 0
    handle.onRestart(() => restarts++)
    const e: unknown = await handle.done.then(() => null, (x: unknown) => x)
    expect(isSluiceError(e)).toBe(true)
    expect(e).toMatchObject({ code: 'SINK_RECORD_UNWRITABLE', kind: 'user', retryable: false })
    expect((e as Error).message).toMatch(/sink "out" cannot write input record #3: it is nested too deeply to encode \(Maximum call stack size exceeded\); record: \{"a":\{"a":/)
    expect(restarts).toBe(0)
  })

  it('nested 20 000 deep, under skip: counted, the job finishes with the other records written', async () => {
    const { p, out } = job('deep-skip', () => deep(20_000), 'skip')
    const r = await p.run().done
    expect(r.status).toBe('finished')
    expect(rows(out)).toEqual([{ i: 0 }, { i: 1 }, { i: 3 }, { i: 4 }])
    expect(operatorTotal(r.metrics, 'out', 'errors')).toBe(1)
    expect(operatorTotal(r.metrics, 'out', 'skipped')).toBe(1)
  })

  it('nested 20 000 deep, under dead-letter: a letter with a preview of the record is written and the job finishes', async () => {
    const { p, out, dead } = job('deep-dead', () => deep(20_000), 'dead-letter')
    const r = await p.run().done
    expect(r.status).toBe('finished')
    expect(rows(out)).toHaveLength(4)
    const letters = rows(dead)
    expect(letters).toHaveLength(1)
    expect(letters[0]).toMatchObject({ operator: 'out', position: 'input record #3' })
    expect(String(letters[0].reason)).toMatch(/nested too deeply.*the letter holds a preview of the record/)
    expect(typeof letters[0].record).toBe('string')
    expect(String(letters[0].record)).toMatch(/^\{"a":\{"a":/)
    expect(String(letters[0].record).length).toBeLessThanOrEqual(201)
    expect(operatorTotal(r.metrics, 'out', 'deadLettered')).toBe(1)
  })

  it('cyclic, under dead-letter: a letter with a preview, the job finishes', async () => {
    const { p, out, dead } = job('cycle-dead', cyclic, 'dead-letter')
    const r = await p.run().done
    expect(r.status).toBe('finished')
    expect(rows(out)).toHaveLength(4)
    const [letter] = rows(dead)
    expect(String(letter.reason)).toMatch(/it is cyclic/)
    expect(String(letter.record)).toMatch(/^\{"name":"loop","self":\{"name":"loop","self":/)
  })

  it('cyclic, under onError fail: SINK_RECORD_UNWRITABLE', async () => {
    const { p } = job('cycle-fail', cyclic, 'fail')
    await expect(p.run().done).rejects.toMatchObject({ code: 'SINK_RECORD_UNWRITABLE', retryable: false })
  })

  it('holding a BigInt, printed by the stdout sink under skip: left out, the rest printed', async () => {
    const stream = new PassThrough()
    let text = ''
    stream.on('data', (c: Buffer) => (text += c.toString()))
    const p = new Pipeline('bigint')
    p.source('n', generatorSource((i) => (i === 1 ? { big: 10n } : { i }), { count: 3 })).to('print', stdoutSink({ stream }), { onError: 'skip' })
    const r = await p.run().done
    expect(text).toBe('{"i":0}\n{"i":2}\n')
    expect(operatorTotal(r.metrics, 'print', 'skipped')).toBe(1)
  })
})

describe('the JSON Lines dead-letter writer', () => {
  it('is not poisoned by a letter whose record is nested 20 000 deep: the letter holds a preview', async () => {
    const out = join(dir, 'op-out.jsonl')
    const dead = join(dir, 'op-dead.jsonl')
    const p = new Pipeline('op-dead', { deadLetter: fileSink(dead) })
    p.source('n', generatorSource((i) => (i === 1 ? deep(20_000) : { i }), { count: 3 }))
      .map('check', (r) => {
        if (typeof r === 'object' && r !== null && 'a' in r) throw new Error('too deep for me')
        return r
      }, { onError: 'dead-letter' })
      .to('out', fileSink(out))
    const r = await p.run().done
    expect(r.status).toBe('finished')
    const [letter] = rows(dead)
    expect(letter).toMatchObject({ operator: 'check', position: 'input record #2' })
    expect(String(letter.reason)).toMatch(/^too deep for me \(the letter holds a preview of the record: nested more than 1000 levels deep, or cyclic\)/)
    expect(String(letter.record)).toMatch(/^\{"a":\{"a":/)
  })
})
