import { describe, expect, it } from 'vitest'
import { restartOptions } from './options.ts'

describe('restart flags', () => {
  it('--restart-reset takes a duration; the defaults stay the engine\'s', () => {
    expect(restartOptions({})).toBeUndefined()
    expect(restartOptions({ restartReset: '30m' })).toEqual({ attempts: 3, delayMs: 1000, backoff: 'fixed', resetMs: 1_800_000 })
    expect(restartOptions({ restartAttempts: '5' })).toEqual({ attempts: 5, delayMs: 1000, backoff: 'fixed' })
    expect(() => restartOptions({ restartReset: '0s' })).toThrow(/CLI_USAGE: --restart-reset must be a duration like 500ms, 1s, 2m or 1h, at least 1ms, got "0s"/)
    expect(() => restartOptions({ restartReset: 'soon' })).toThrow(/CLI_USAGE: --restart-reset must be a duration like 500ms, 1s, 2m or 1h, at least 1ms, got "soon"/)
  })
})
