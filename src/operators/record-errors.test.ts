import { describe, expect, it } from 'vitest'
import { MAX_LETTER_DEPTH, preview, unwritable } from './record-errors.ts'

function deep(levels: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < levels; i++) v = [v]
  return v
}

describe('preview', () => {
  it('renders records JSON-like, cut at 200 characters', () => {
    expect(preview({ a: 1, b: 'x', c: [true, null], d: undefined })).toBe('{"a":1,"b":"x","c":[true,null],"d":undefined}')
    expect(preview('plain string')).toBe('plain string')
    expect(preview('y'.repeat(300))).toBe(`${'y'.repeat(200)}…`)
    expect(preview({ when: new Date(0) })).toBe('{"when":"1970-01-01T00:00:00.000Z"}')
  })

  it('never throws nor overflows the stack: nested 20 000 deep, cyclic, BigInt, throwing getters, raw bytes', () => {
    expect(preview(deep(20_000))).toBe(`${'['.repeat(200)}…`)
    const loop: Record<string, unknown> = { n: 1 }
    loop.self = loop
    expect(preview(loop)).toMatch(/^\{"n":1,"self":\{"n":1,"self":/)
    expect(preview({ big: 12n })).toBe('{"big":12n}')
    expect(preview({ a: 1, get b(): never { throw new Error('no') } })).toBe('{"a":1,"b":…')
    expect(preview(Buffer.from([0x61, 0xff, 0x62]))).toBe('a\uFFFDb')
  })
})

describe('unwritable', () => {
  it('accepts plain data and names what a letter cannot hold', () => {
    expect(unwritable({ a: [1, { b: 'c' }] })).toBeNull()
    expect(unwritable('text')).toBeNull()
    expect(unwritable(deep(MAX_LETTER_DEPTH - 1))).toBeNull()
    expect(unwritable(deep(MAX_LETTER_DEPTH + 1))).toMatch(/nested more than 1000 levels deep, or cyclic/)
    const loop: Record<string, unknown> = {}
    loop.self = loop
    expect(unwritable(loop)).toMatch(/or cyclic/)
    expect(unwritable({ n: 1n })).toMatch(/BigInt/)
  })
})
