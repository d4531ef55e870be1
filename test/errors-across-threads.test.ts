/**
 * An error thrown on a worker thread reaches the main thread with its code, message, causes and
 * the worker's stack (errors.ts serializeError / deserializeError): what a user needs to find
 * the line of their function that failed.
 */
import { describe, expect, it } from 'vitest'
import { isSluiceError, type SluiceError } from '../src/errors.ts'
import { codedErrorJob } from './fixtures/coded-error-job.ts'

async function failureOf(mode: 'coded' | 'plain'): Promise<SluiceError> {
  const job = codedErrorJob(mode).run({ workers: 2 })
  const e = await job.done.then(() => null, (x: unknown) => x)
  expect(job.status()).toBe('failed')
  if (!isSluiceError(e)) throw new Error(`expected a SluiceError, got ${String(e)}`)
  return e
}

describe('errors from worker threads', () => {
  it('a SluiceError with a cause, thrown by a user function, keeps both and the function\'s stack frame', async () => {
    const e = await failureOf('coded')
    expect(e.code).toBe('RECORD_FAILED')
    expect(e.message).toMatch(/^RECORD_FAILED: operator "price" \(subtask \d of 2\) failed on input record #\d+: CONNECTOR_UNREACHABLE: price service refused item 500; record: 500 \(worker \d of 2\)$/)
    const thrown = e.cause as SluiceError
    expect(isSluiceError(thrown)).toBe(true)
    expect([thrown.code, thrown.message, thrown.retryable]).toEqual(['CONNECTOR_UNREACHABLE', 'CONNECTOR_UNREACHABLE: price service refused item 500', true])
    expect(thrown.stack).toMatch(/at lookUpPrice \(.*coded-error-job\.ts:\d+:\d+\)/)
    const root = thrown.cause as Error
    expect(root.message).toBe('connect ECONNREFUSED 127.0.0.1:9')
    expect(root.stack).toMatch(/at lookUpPrice \(/)
  }, 60_000)

  it('a plain Error thrown by a user function arrives as the cause, with its stack frame', async () => {
    const e = await failureOf('plain')
    expect(e.code).toBe('RECORD_FAILED')
    expect(e.retryable).toBe(false)
    expect(e.message).toMatch(/failed on input record #\d+: no price for item 500; record: 500 \(worker \d of 2\)$/)
    const cause = e.cause as Error
    expect([cause.name, cause.message]).toEqual(['Error', 'no price for item 500'])
    expect(cause.stack).toMatch(/at lookUpPrice \(.*coded-error-job\.ts:\d+:\d+\)/)
    // The engine frames where the record failed are the worker's, not this thread's.
    expect(e.stack).toMatch(/^SluiceError: RECORD_FAILED: operator "price"/)
    expect(e.stack).not.toMatch(/deserializeError/)
  }, 60_000)
})
