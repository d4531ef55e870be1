import { Worker } from 'node:worker_threads'
import { describe, expect, it } from 'vitest'
import { ThreadStats, threadCpuMs } from './thread-stats.ts'

/** A fixed amount of work (not of wall time): a loaded machine stretches it but its CPU time stays. */
function work(iterations: number): number {
  let x = 0
  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i)) % 1e9
  return x
}

const linux = process.platform === 'linux'

describe.runIf(linux)('thread CPU time', () => {
  it('is read, positive, and grows while this thread computes', () => {
    const before = threadCpuMs()
    expect(before).toBeGreaterThan(0)
    work(5e6)
    expect(threadCpuMs()).toBeGreaterThan(before as number)
  })

  it('counts this thread only: another thread computing while this one awaits it is not in it', async () => {
    const process0 = process.cpuUsage()
    const main0 = threadCpuMs() as number
    const w = new Worker(`let x = 0; for (let i = 0; i < 2e7; i++) x = (x + Math.sqrt(i)) % 1e9; require('node:worker_threads').parentPort.postMessage(x)`, { eval: true })
    await new Promise((resolve, reject) => {
      w.once('message', resolve)
      w.once('error', reject)
    })
    await w.terminate()
    const mainMs = (threadCpuMs() as number) - main0
    const d = process.cpuUsage(process0)
    const processMs = (d.user + d.system) / 1000
    // The worker's loop is most of the process's CPU time; this thread only started and awaited it.
    expect(mainMs).toBeLessThan(processMs / 2)
  })

  it('goes into every thread snapshot', () => {
    const stats = new ThreadStats(-1)
    try {
      expect(stats.snapshot().cpuMs).toBeGreaterThan(0)
    } finally {
      stats.stop()
    }
  })
})
