/**
 * Worker side of the two-thread SabRing tests (started with startTsWorker). Plays producer or
 * consumer over the ring in workerData and posts its report back.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { SabRing } from './sab-ring.ts'
import { consume, produce } from './sab-ring-test-support.ts'

export interface RingWorkerData {
  role: 'producer' | 'consumer'
  buffer: SharedArrayBuffer
  seed: number
  maxSize: number
  count: number
  slowEvery: number
  stallEvery: number
  waitTimeoutMs: number
}

const d = workerData as RingWorkerData
const ring = SabRing.attach(d.buffer)
const report = d.role === 'producer'
  ? await produce(ring, d.seed, d.maxSize, d.count, d.waitTimeoutMs)
  : await consume(ring, d.seed, d.maxSize, d.slowEvery, d.waitTimeoutMs, d.stallEvery, d.count - d.stallEvery)
parentPort!.postMessage(report)
