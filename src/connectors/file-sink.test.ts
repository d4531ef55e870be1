import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { fileSink } from './file-sink.ts'
import { sinkContract, testSinkContext, writeAll } from './sink-contract.ts'

const dir = mkdtempSync(join(tmpdir(), 'sluice-file-sink-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let files = 0
const nextPath = (): string => join(dir, `nested-${++files}`, 'deeper', 'out.jsonl')
const readJsonl = (path: string): unknown[] =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown)

const sample = Array.from({ length: 3000 }, (_, i) => ({ i, text: `record ${i} ${'ü'.repeat(i % 50)}` }))

sinkContract('fileSink', () => {
  const path = nextPath()
  return { sink: fileSink(path), written: () => readJsonl(path) }
}, sample)

describe('fileSink', () => {
  it('replaces an existing file', async () => {
    const path = join(dir, 'existing.jsonl')
    writeFileSync(path, 'old content that is longer than the new\n')
    await writeAll(await fileSink(path).open(testSinkContext), [{ a: 1 }], [1])
    expect(readFileSync(path, 'utf8')).toBe('{"a":1}\n')
  })

  it('fails to open with SINK_IO when the location is not writable', async () => {
    const blocker = join(dir, 'a-file')
    writeFileSync(blocker, '')
    await expect(fileSink(join(blocker, 'out.jsonl')).open(testSinkContext)).rejects.toMatchObject({
      code: 'SINK_IO',
      message: expect.stringContaining(blocker),
    })
  })

  it('refuses writes after close', async () => {
    const writer = await fileSink(nextPath()).open(testSinkContext)
    await writer.close?.()
    expect(() => writer.write([1])).toThrow(expect.objectContaining({ code: 'SINK_IO' }))
  })

  it('rejects an unknown format', () => {
    expect(() => fileSink('x', { format: 'csv' as 'jsonl' })).toThrow(expect.objectContaining({ code: 'JOB_INVALID_OPTION' }))
  })
})
