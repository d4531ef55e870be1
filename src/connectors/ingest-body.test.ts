import { describe, expect, it } from 'vitest'
import { bodyText, decodeBody, ingestFormat, jsonErrorOffset } from './ingest-body.ts'
import { IngestBuffer } from './ingest-buffer.ts'
import { ManualClock } from '../time/clock.ts'

describe('ingest bodies', () => {
  it('media types: JSON and NDJSON (with their aliases and a UTF-8 charset), nothing else', () => {
    expect(ingestFormat('application/json')).toBe('json')
    expect(ingestFormat('Application/JSON; charset=UTF-8')).toBe('json')
    expect(ingestFormat('application/x-ndjson')).toBe('ndjson')
    expect(ingestFormat('application/jsonl')).toBe('ndjson')
    expect(ingestFormat('application/json; charset=latin1')).toBeNull()
    expect(ingestFormat('text/plain')).toBeNull()
    expect(ingestFormat(undefined)).toBeNull()
  })

  it('JSON: one record or an array of them; NDJSON: one a line, blank lines and CR ignored', () => {
    expect(decodeBody('{"a":1}', 'json', undefined)).toEqual({ ok: true, records: [{ a: 1 }] })
    expect(decodeBody('[{"a":1},2,"x"]', 'json', undefined)).toEqual({ ok: true, records: [{ a: 1 }, 2, 'x'] })
    expect(decodeBody('{"a":1}\r\n\n  \n{"a":2}', 'ndjson', undefined)).toEqual({ ok: true, records: [{ a: 1 }, { a: 2 }] })
  })

  it('malformed: the first bad line, or the line and column of a JSON body, nothing decoded', () => {
    expect(decodeBody('1\n2\n{x}\n4', 'ndjson', undefined)).toMatchObject({ ok: false, line: 3 })
    expect(decodeBody('[1,\n 2,\n 3', 'json', undefined)).toMatchObject({ ok: false, line: 3, message: 'the body is not valid JSON: the body ends in the middle of a value at line 3, column 3' })
    const parse = (v: unknown): number => {
      if (typeof v !== 'number') throw new Error('not a number')
      return v
    }
    expect(decodeBody('1\n"two"\n', 'ndjson', parse)).toEqual({ ok: false, line: 2, message: 'line 2 was refused by parse: not a number' })
    expect(decodeBody('[1, "two"]', 'json', parse)).toMatchObject({ ok: false, line: null })
  })

  it('jsonErrorOffset agrees with JSON.parse, and survives deep nesting', () => {
    const cases = ['{}', '[1,2]', '{"a":[true,false,null,-1.5e3,"\\u00e9"]}', '[1,]', '{"a" 1}', '{"a":1,}', '01', '"\\x"', '[1] 2', 'tru', '', '  ', '{"a":"b\nc"}']
    for (const c of cases) {
      let valid = true
      try {
        JSON.parse(c)
      } catch {
        valid = false
      }
      expect(jsonErrorOffset(c) === -1, c).toBe(valid)
    }
    expect(jsonErrorOffset('['.repeat(1_000_000))).toBe(1_000_000)
  })

  it('UTF-8 only', () => {
    expect(bodyText(new Uint8Array([0x22, 0xc3, 0xa9, 0x22]))).toBe('"é"')
    expect(bodyText(new Uint8Array([0x22, 0xff, 0x22]))).toBeNull()
  })
})

describe('IngestBuffer', () => {
  it('takes a request whole or not at all, never holds more than its capacity, hands records out in order', () => {
    const b = new IngestBuffer<number>(10, new ManualClock(0))
    expect(b.offer([1, 2, 3, 4, 5, 6])).toBe(true)
    expect(b.offer([7, 8, 9, 10, 11])).toBe(false)
    expect(b.length).toBe(6)
    expect(b.offer([7, 8, 9, 10])).toBe(true)
    expect(b.highWater).toBe(10)
    const out: number[] = []
    expect(b.take(out, 4)).toBe(4)
    expect(b.take(out, 100)).toBe(6)
    expect(out).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(b.length).toBe(0)
  })

  it('Retry-After follows the rate the job drains at, from 1 to 30 s', () => {
    const clock = new ManualClock(0)
    const b = new IngestBuffer<number>(1000, clock)
    expect(b.retryAfterSeconds(500)).toBe(1)
    b.offer(Array.from({ length: 1000 }, (_, i) => i))
    b.take([], 100)
    clock.advance(1000)
    b.take([], 0)
    expect(b.retryAfterSeconds(500)).toBe(5)
    clock.advance(1000)
    expect(b.retryAfterSeconds(500)).toBe(1) // nothing taken in the last second: no rate known
  })
})
