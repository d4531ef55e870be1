import { describe, expect, it } from 'vitest'
import { timestampProblem } from './timestamp-problem.ts'

describe('timestampProblem', () => {
  it('shows a string that reads as a number as a string, with the CSV column hint', () => {
    expect(timestampProblem('1767225600000')).toBe(`timestamp is "1767225600000" (a string), not a finite number of epoch ms: convert it in the timestamp function (Number(…)), or, reading CSV, declare the column's type (csv: { types: { <column>: 'number' } }, see docs/GUIDE.md#csv-columns)`)
  })

  it('points a date string at Date.parse, and anything else at returning epoch milliseconds', () => {
    expect(timestampProblem('2026-01-01T00:00:00Z')).toMatch(/^timestamp is "2026-01-01T00:00:00Z" \(a string\), .*Date\.parse/)
    expect(timestampProblem(undefined)).toMatch(/^timestamp is undefined \(undefined\), not a finite number of epoch ms: make the timestamp function return epoch milliseconds/)
    expect(timestampProblem(Number.NaN)).toMatch(/^timestamp is NaN, not a finite number/)
    expect(timestampProblem('')).toMatch(/^timestamp is "" \(a string\), .*return epoch milliseconds as a number/)
  })
})
