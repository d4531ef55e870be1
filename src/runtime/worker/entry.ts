/**
 * A worker thread of a job: rebuilds the job from its module, checks it built the same plan as
 * the coordinator, builds its share of the tasks (subtask i of every chain runs on worker
 * i mod W), connects cross-thread channels to the rings the coordinator made, and runs them on
 * its own scheduler, reporting metrics, completion or failure to the coordinator.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { serializeError, SluiceError } from '../../errors.ts'
import type { JobDefinition } from '../../graph/job.ts'
import { systemClock } from '../../time/clock.ts'
import { SabRing } from '../exchange/ring/sab-ring.ts'
import { codecFor } from '../exchange/codec/index.ts'
import { cloneable, DeadLetterRouter, deadLetterSinks } from '../task/dead-letters.ts'
import { JobRunner } from '../task/job-runner.ts'
import { loadPipeline } from './job-module.ts'
import { physicalPlan, planFingerprint } from '../../graph/physical.ts'
import { buildTasks } from '../task/build-tasks.ts'
import { assertNever, type FromWorker, type ToWorker, type WorkerStart } from './protocol.ts'
import { RingInChannel, RingOutChannel } from '../exchange/ring-channel.ts'
import { startCpuProfile } from './cpu-profile.ts'
import { restoreFor } from '../task/restore.ts'
import { SourceTask } from '../task/source-task.ts'
import type { CheckpointListener, CompletedPart, Task } from '../task/task.ts'
import { ThreadStats } from '../../metrics/thread-stats.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import { snapshotBuffers } from '../../state/value-codec.ts'

const start = workerData as WorkerStart
const port = parentPort as NonNullable<typeof parentPort>
const post = (m: FromWorker): void => port.postMessage(m)

async function main(): Promise<void> {
  // SLUICE_CPU_PROFILE=<dir>: this worker's profile goes to <dir>/worker-<index>.cpuprofile.
  const profile = startCpuProfile(`worker-${start.worker}`)
  let runner: JobRunner | null = null
  let stopRequested = false
  let tasks: Task[] = []
  /** Checkpoint id → this worker's tasks and what their sinks pre-committed, until committed. */
  const acked = new Map<number, Map<Task, CompletedPart>>()
  const stats = new ThreadStats(start.worker)
  const snapshot = (): JobMetrics => ({ ...(runner as JobRunner).metrics(), threads: [stats.snapshot()] })
  port.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'stop':
        // A stop that arrives while the job module still loads is kept and applied to the runner.
        stopRequested = true
        runner?.stop()
        return
      case 'metrics':
        if (runner !== null) post({ type: 'metrics', metrics: snapshot() })
        return
      case 'checkpoint':
        // Only when every task here runs: tasks still opening cannot take part yet, ended ones never.
        if (runner === null || tasks.some((t) => t.state !== 'running')) post({ type: 'decline', id: m.id, ended: tasks.some((t) => t.state === 'finishing' || t.state === 'finished') })
        else for (const t of tasks) if (t instanceof SourceTask) t.triggerCheckpoint(m.id)
        return
      case 'commit': {
        snapshotBuffers.adopt(m.buffers)
        const mine = acked.get(m.id)
        for (const id of [...acked.keys()]) if (id <= m.id) acked.delete(id)
        if (mine !== undefined) {
          void Promise.all([...mine].map(([t, sinks]) => t.commitCheckpoint(sinks, m.id))).catch((e: unknown) => {
            post({ type: 'failed', error: serializeError(e), metrics: null })
          })
        }
        return
      }
      default:
        assertNever(m)
    }
  })
  try {
    const pipeline = (await loadPipeline(start.job)) as unknown as JobDefinition
    const graph = pipeline.graph
    graph.validate()
    const plan = physicalPlan(graph, start.parallelism, pipeline.maxParallelism)
    if (planFingerprint(graph, plan) !== start.fingerprint) {
      throw new SluiceError('JOB_NOT_DETERMINISTIC', `worker ${start.worker} imported ${start.job.url} and built a different job than the main thread (ids, operators, parallelism or edges differ); a job module must build the same pipeline every time it is imported`)
    }
    // Before any task opens its source: a source fed from the main thread reads through this end.
    for (const [id, feed] of Object.entries(start.feeds)) {
      const n = graph.nodes.get(id)
      if (n?.type !== 'source' || n.source.attachFeed === undefined) throw new SluiceError('INTERNAL', `worker ${start.worker} got a feed for ${id}, which is no source fed from the main thread`)
      n.source.attachFeed(feed, 'worker')
    }
    const deadLetters = new DeadLetterRouter()
    runner = new JobRunner(systemClock, deadLetters)
    if (stopRequested) runner.stop()
    const generic = codecFor()
    tasks = buildTasks(graph, {
      clock: systemClock,
      deadLetters,
      scheduler: runner,
      channelCapacity: start.channelCapacity,
      parallelism: start.parallelism,
      maxParallelism: pipeline.maxParallelism,
      fuse: start.fuse,
      latencyMarkerIntervalMs: start.latencyMarkerIntervalMs,
      placement: {
        worker: start.worker,
        workers: start.workers,
        crossChannel: (label, end, schema) => {
          const sab = start.rings[label]
          if (sab === undefined) throw new SluiceError('INTERNAL', `no ring for channel ${label}`)
          const ring = SabRing.attach(sab)
          const codec = schema === undefined ? generic : codecFor(schema)
          return end === 'producer' ? new RingOutChannel(label, ring, codec, start.channelCapacity) : new RingInChannel(label, ring, codec)
        },
      },
    })
    if (start.checkpoints !== null) {
      const listener: CheckpointListener = {
        ack: (t, id, parts) => {
          const forId = acked.get(id) ?? (acked.set(id, new Map()).get(id) as Map<Task, CompletedPart>)
          forId.set(t, { sinks: parts.sinks, sources: parts.sources })
          // The state's buffers are the snapshot's own (snapshot.ts): moved, not copied.
          const buffers = new Set<ArrayBuffer>()
          for (const chunks of Object.values(parts.operators)) for (const b of chunks) if (b.buffer instanceof ArrayBuffer) buffers.add(b.buffer)
          const letters = parts.letters.map((b) => ({ sink: b.sink, letters: cloneable(b.letters) }))
          port.postMessage({ type: 'ack', id, task: t.id, subtask: t.subtask, parts: { ...parts, letters } } satisfies FromWorker, [...buffers])
        },
      }
      for (const t of tasks) {
        t.checkpoints = listener
        t.maxParallelism = pipeline.maxParallelism
        t.restore = restoreFor(t, start.checkpoints.restore)
      }
    }
    runner.setTasks(tasks)
    deadLetters.open(deadLetterSinks(graph), { write: (b) => post({ type: 'dead-letters', sink: b.sink, letters: cloneable(b.letters) }) })
    const metricsTimer = setInterval(() => post({ type: 'metrics', metrics: snapshot() }), 500)
    try {
      // Ready once every task here runs (restored): the coordinator starts checkpoints only then.
      const result = await runner.run(() => post({ type: 'ready' }))
      profile?.stop()
      post({ type: 'finished', status: result.status, metrics: { ...result.metrics, threads: [stats.snapshot()] } })
      stats.stop()
    } finally {
      clearInterval(metricsTimer)
    }
    // Let the thread end by itself: exiting naturally flushes what sinks wrote to stdout/stderr,
    // which a terminate() from the coordinator could cut off.
    port.unref()
  } catch (e) {
    profile?.stop()
    post({ type: 'failed', error: serializeError(e), metrics: runner?.metrics() ?? null })
  }
}

await main()
