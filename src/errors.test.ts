import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { ERROR_CODES, SluiceError, isSluiceError } from './errors.ts'

describe('error catalogue', () => {
  it('docs/ERRORS.md lists exactly the codes of the catalogue, with the same kinds', () => {
    const doc = readFileSync(new URL('../docs/ERRORS.md', import.meta.url), 'utf8')
    const rows = [...doc.matchAll(/^\| `([A-Z_]+)` \| (\w+) \|/gm)].map((m) => [m[1], m[2]])
    const documented = Object.fromEntries(rows)
    const catalogue = Object.fromEntries(Object.entries(ERROR_CODES).map(([code, info]) => [code, info.kind]))
    expect(documented).toEqual(catalogue)
  })

  it('errors carry code, kind, retryable and hint, and are recognised by shape', () => {
    const e = new SluiceError('SOURCE_IO', 'cannot open x')
    expect(e.message).toBe('SOURCE_IO: cannot open x')
    expect(e.kind).toBe('external')
    expect(e.retryable).toBe(true)
    expect(isSluiceError(e)).toBe(true)
    expect(isSluiceError({ code: 'SOURCE_IO', message: 'cloned across a thread' })).toBe(true)
    expect(isSluiceError(new Error('plain'))).toBe(false)
  })
})
