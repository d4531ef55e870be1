/**
 * Golden files: small, fixed-seed Nexmark runs whose results (checked against DuckDB when they
 * were written) are kept in test/golden/. Any change in results shows up here as a diff.
 * Regenerate deliberately with UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { nexmarkPipeline } from '../src/cli/nexmark-command.ts'
import { memorySink } from '../src/testing/index.ts'
import { QUERIES } from '../src/nexmark/queries/index.ts'

const CASES = ['q3', 'q4', 'q5', 'q7', 'q8', 'q11']
const update = process.env.UPDATE_GOLDEN === '1'

describe('golden results (seed 11, 30 000 events at 1 000 events/s)', () => {
  for (const q of CASES) {
    it(q, async () => {
      const sink = memorySink<unknown>()
      await nexmarkPipeline({ query: q, events: '30000', seed: '11', rate: '1000' }, sink).run().done
      // q4 is an updating result: its order (last row per id wins) is part of the result.
      const lines = sink.records.map((r) => JSON.stringify(r))
      if (!QUERIES[q].updating) lines.sort()
      const path = new URL(`golden/${q}.jsonl`, import.meta.url)
      if (update) writeFileSync(path, `${lines.join('\n')}\n`)
      expect(existsSync(path), `missing ${path.pathname}; run with UPDATE_GOLDEN=1 to create it`).toBe(true)
      const golden = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0)
      expect(golden.length).toBeGreaterThan(0)
      expect(lines).toEqual(golden)
    })
  }
})
