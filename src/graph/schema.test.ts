import { describe, expect, expectTypeOf, it } from 'vitest'
import { isSluiceError } from '../errors.ts'
import { recordSchema, isRecordSchema, type RecordSchema } from './schema.ts'

describe('recordSchema', () => {
  it('keeps field order, normalises short and long forms, and infers the record type', () => {
    const s = recordSchema({
      auction: 'number', bidder: 'int', channel: 'string', flag: 'boolean',
      note: { type: 'string', nullable: true }, qty: { type: 'int' }, maybe: { type: 'boolean', nullable: false },
    })
    expect(s.fields).toStrictEqual([
      { name: 'auction', type: 'number', nullable: false },
      { name: 'bidder', type: 'int', nullable: false },
      { name: 'channel', type: 'string', nullable: false },
      { name: 'flag', type: 'boolean', nullable: false },
      { name: 'note', type: 'string', nullable: true },
      { name: 'qty', type: 'int', nullable: false },
      { name: 'maybe', type: 'boolean', nullable: false },
    ])
    expect(Object.isFrozen(s) && Object.isFrozen(s.fields) && Object.isFrozen(s.fields[0])).toBe(true)
    expect(isRecordSchema(s)).toBe(true)
    expect(isRecordSchema({ fields: [] })).toBe(false)
    expectTypeOf(s).toEqualTypeOf<RecordSchema<{
      auction: number; bidder: number; channel: string; flag: boolean; note: string | null; qty: number; maybe: boolean
    }>>()
  })

  it('checks against an existing record interface', () => {
    interface Bid { auction: number; channel: string }
    const ok: RecordSchema<Bid> = recordSchema({ auction: 'number', channel: 'string' })
    expect(ok.fields.length).toBe(2)
    // @ts-expect-error channel is a string in Bid
    const bad: RecordSchema<Bid> = recordSchema({ auction: 'number', channel: 'number' })
    expect(bad.fields.length).toBe(2)
  })

  it('fingerprints names, types, nullability and order', () => {
    const base = recordSchema({ a: 'number', b: 'string' }).fingerprint
    expect(recordSchema({ a: 'number', b: 'string' }).fingerprint).toBe(base)
    for (const other of [
      recordSchema({ b: 'string', a: 'number' }), recordSchema({ a: 'int', b: 'string' }),
      recordSchema({ a: 'number', b: { type: 'string', nullable: true } }), recordSchema({ a: 'number', c: 'string' }),
      recordSchema({ a: 'number' }),
    ]) expect(other.fingerprint).not.toBe(base)
  })

  it.each([
    [null, /takes an object of field names to types, got null/],
    [[], /takes an object of field names to types/],
    ['number', /got string/],
    [{}, /at least one field/],
    [{ '': 'number' }, /field names must not be empty/],
    [JSON.parse('{"__proto__": "number"}'), /"__proto__" cannot be a field name/],
    [{ a: 'float' }, /field "a": unknown type "float"; use one of number, int, string, boolean/],
    [{ a: 'object' }, /records are flat, so nested values need the generic codec/],
    [{ a: { type: 'array' } }, /records are flat/],
    [{ a: { type: 'number', nulable: true } }, /field "a": unknown option "nulable"/],
    [{ a: { type: 'number', nullable: 'yes' } }, /field "a": nullable must be true or false, got "yes"/],
    [{ a: {} }, /field "a": unknown type undefined/],
    [{ a: 3 }, /field "a": expected a type name .* got number/],
    [{ a: null }, /field "a": expected a type name .* got null/],
  ])('rejects an invalid schema: %#', (spec, message) => {
    let thrown: unknown
    try {
      recordSchema(spec as never)
    } catch (e) {
      thrown = e
    }
    expect(isSluiceError(thrown)).toBe(true)
    expect((thrown as { code: string }).code).toBe('SCHEMA_INVALID')
    expect((thrown as Error).message).toMatch(message)
  })
})
