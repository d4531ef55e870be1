/**
 * Runs a job on worker threads. The coordinator (main thread) plans the job, creates a ring for
 * every channel whose ends land on different workers, starts the workers with the job's module
 * reference and the rings, and merges their reports. Any worker failure stops the whole job:
 * the other workers are terminated and `done` rejects with the cause (operator, subtask, reason)
 * — no hung process, no orphan threads.
 */
import { availableParallelism } from 'node:os'
import { ERROR_CODES, SluiceError } from '../../errors.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import { systemClock } from '../../time/clock.ts'
import { SabRing } from '../exchange/ring/sab-ring.ts'
import { startJobWorker } from '../worker/start-worker.ts'
import { LocalChannel } from '../exchange/channel.ts'
import { closeDeadLetters, DeadLetterRouter, deadLetterSinks, DeadLetterWriters } from '../task/dead-letters.ts'
import { JobRunner, type JobResult, type JobStatus } from '../task/job-runner.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import { buildTasks, physicalPlan, planFingerprint, workerOf } from '../task/plan.ts'
import { assertNever, type FromWorker, type JobModuleRef, type ToWorker, type WorkerStart } from '../worker/protocol.ts'
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import { afterCheckpoints, CheckpointCoordinator, checkpointFor, noCheckpointsError, type CheckpointOptions, type CheckpointParticipants, type CheckpointStats } from './checkpoint-coordinator.ts'

export interface ThreadedRunOptions {
  readonly workers?: number
  readonly parallelism: number
  readonly maxParallelism: number
  readonly channelCapacity: number
  readonly fuse: boolean
  readonly latencyMarkerIntervalMs: number
  /** Exactly-once checkpoints, coordinated here, taken by the workers' tasks. */
  readonly checkpoints?: CheckpointOptions
  /** The job's name (checkpoint files record it). */
  readonly name?: string
}

/** Ring size per cross-thread channel: a few batches in flight, and room for a large message. */
const RING_BYTES = 4 * 1024 * 1024

/** One run of a job's tasks: a threaded run, or (same shape) an in-thread one; see Pipeline.run. */
export interface ThreadedJob {
  readonly done: Promise<JobResult>
  status(): JobStatus
  stop(): Promise<JobResult>
  metrics(): JobMetrics
  checkpoints(): CheckpointStats | null
  savepoint(dir: string): Promise<string>
}

export function defaultWorkers(parallelism: number): number {
  return Math.max(1, Math.min(parallelism, availableParallelism()))
}

export function runThreaded(graph: LogicalGraph, job: JobModuleRef, o: ThreadedRunOptions): ThreadedJob {
  const workers = o.workers ?? defaultWorkers(o.parallelism)
  const plan = physicalPlan(graph, o.parallelism, o.maxParallelism)
  const rings: Record<string, SharedArrayBuffer> = {}
  // Dry run of the placement: learns every cross-thread channel, and creates its ring.
  buildTasks(graph, {
    clock: systemClock,
    deadLetters: new DeadLetterRouter(),
    scheduler: new JobRunner(systemClock, new DeadLetterRouter()),
    channelCapacity: o.channelCapacity,
    parallelism: o.parallelism,
    maxParallelism: o.maxParallelism,
    fuse: false,
    placement: {
      worker: -1,
      workers,
      crossChannel: (label) => {
        rings[label] = SabRing.create({ capacityBytes: RING_BYTES, capacityRecords: o.channelCapacity }).buffer
        return new LocalChannel<unknown>(label, o.channelCapacity)
      },
    },
  })
  const fingerprint = planFingerprint(graph, plan)
  // Checkpoints: this thread coordinates; workers' tasks align barriers and acknowledge by message.
  const coordinator = o.checkpoints === undefined ? null : new CheckpointCoordinator(o.checkpoints, o.name ?? 'job', graph, o.parallelism, o.maxParallelism)
  let declined = false
  // Dead letters from every worker are written here, by the one thread that owns the sinks.
  const letters = new DeadLetterWriters(deadLetterSinks(graph), coordinator !== null)
  const taskCount = plan.chains.reduce((n, chain) => n + (plan.parallelism.get(chain[0]) as number), 0)
  const sourceSubtasks = new Map<string, number>()
  for (const n of graph.nodes.values()) if (n.type === 'source') sourceSubtasks.set(n.id, plan.parallelism.get(n.id) as number)
  const participants: CheckpointParticipants = {
    taskCount,
    sourceSubtasks,
    deadLetters: letters,
    allRunning: () => !declined && status === 'running' && !finished.some(Boolean) && ready.every(Boolean),
    triggerSources: (id) => {
      for (const t of threads) t.postMessage({ type: 'checkpoint', id } satisfies ToWorker)
    },
    commit: async (id, acks) => {
      // Each worker gets back the buffers its tasks' state came in (moved, not copied).
      const buffers: Set<ArrayBuffer>[] = threads.map(() => new Set())
      for (const a of acks.values()) {
        const w = workerOf(a, workers)
        for (const chunks of Object.values(a.operators)) for (const b of chunks) if (b.buffer instanceof ArrayBuffer && b.buffer.byteLength > 0) buffers[w].add(b.buffer)
      }
      threads.forEach((t, w) => {
        const list = [...buffers[w]]
        t.postMessage({ type: 'commit', id, buffers: list } satisfies ToWorker, list)
      })
    },
  }
  // Sources fed from this thread (HTTP ingest: the server runs here): a channel each, between the
  // graph's instance here and the instance of the worker that runs the source's only subtask.
  const feeds: Record<string, MessagePort>[] = Array.from({ length: workers }, () => ({}))
  const feedEnds: MessagePort[] = []
  for (const n of graph.nodes.values()) {
    if (n.type !== 'source' || n.source.attachFeed === undefined) continue
    const { port1, port2 } = new MessageChannel()
    n.source.attachFeed(port1, 'main')
    feeds[workerOf({ subtask: 0 }, workers)][n.id] = port2
    feedEnds.push(port1)
  }
  const readsStdin = [...graph.nodes.values()].some((n) => n.type === 'source' && n.source.kind === 'stdin')
  let stdinRelease = (): void => {}
  const last: (JobMetrics | null)[] = new Array(workers).fill(null)
  const finished: boolean[] = new Array(workers).fill(false)
  const ready: boolean[] = new Array(workers).fill(false)
  const exited: boolean[] = new Array(workers).fill(false)
  let readyAt = 0
  const statuses: ('finished' | 'stopped')[] = []
  let status: JobStatus = 'running'
  const threads: Worker[] = []
  const startedAt = performance.now()

  const merged = (): JobMetrics => ({
    operators: last.flatMap((m) => m?.operators ?? []),
    tasks: last.flatMap((m) => m?.tasks ?? []),
    threads: last.flatMap((m) => m?.threads ?? []),
  })

  let failJob: (e: SluiceError) => void = () => {}
  const restore = coordinator === null ? null : coordinator.load(participants, (e) => failJob(e instanceof SluiceError ? e : new SluiceError('CHECKPOINT_IO', `checkpoint failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })))
  const done = new Promise<JobResult>((resolve, reject) => {
    let failed = false
    let finishedAt = 0
    let lingerTimer: NodeJS.Timeout | null = null
    const settleIfDone = (): void => {
      if (failed || !finished.every(Boolean) || !exited.every(Boolean)) return
      if (lingerTimer !== null) clearTimeout(lingerTimer)
      // Every letter has arrived (they precede 'finished' on each worker's port): closeDeadLetters below writes the rest.
      status = statuses.includes('stopped') ? 'stopped' : 'finished'
      resolve({ status, durationMs: finishedAt - startedAt, startupMs: readyAt - startedAt, metrics: merged() })
    }
    const fail = (e: SluiceError): void => {
      if (failed) return
      failed = true
      status = 'failed'
      for (const t of threads) void t.terminate()
      reject(e)
    }
    failJob = fail
    letters.open(systemClock, coordinator === null ? undefined : (restore?.deadLetters ?? null)).catch((e: unknown) => fail(e as SluiceError))
    for (let w = 0; w < workers; w++) {
      const start: WorkerStart = { job, worker: w, workers, parallelism: o.parallelism, channelCapacity: o.channelCapacity, fuse: o.fuse, latencyMarkerIntervalMs: o.latencyMarkerIntervalMs, fingerprint, rings, checkpoints: coordinator === null ? null : { restore: restore === null ? null : checkpointFor(restore, (op) => plan.parallelism.get(op) ?? 1, (s) => workerOf({ subtask: s }, workers) === w) }, feeds: feeds[w] }
      // Sources that cannot split run on worker 0; a stdin source there reads this process's stdin.
      const t = startJobWorker({ workerData: start, stdin: w === 0 && readsStdin, transferList: Object.values(feeds[w]) })
      if (w === 0 && readsStdin && t.stdin !== null) {
        const workerStdin = t.stdin
        process.stdin.pipe(workerStdin)
        // Release this process's stdin when the job ends, or it keeps the process alive.
        stdinRelease = () => {
          process.stdin.unpipe(workerStdin)
          process.stdin.pause()
        }
      }
      threads.push(t)
      t.on('message', (m: FromWorker) => {
        switch (m.type) {
          case 'ready':
            ready[w] = true
            if (ready.every(Boolean)) readyAt = performance.now()
            return
          case 'metrics':
            last[w] = m.metrics
            return
          case 'dead-letters':
            letters.write({ sink: m.sink, letters: m.letters }).catch((e: unknown) => fail(e as SluiceError))
            return
          case 'finished':
            last[w] = m.metrics
            finished[w] = true
            statuses.push(m.status)
            if (finished.every(Boolean)) {
              finishedAt = performance.now()
              // Workers exit by themselves (flushing their stdio); one that lingers is ended.
              lingerTimer = setTimeout(() => {
                for (const x of threads) void x.terminate()
              }, 5000)
              lingerTimer.unref()
              settleIfDone()
            }
            return
          case 'ack':
            coordinator?.ack(m.task, m.subtask, m.id, m.parts)
            return
          case 'decline':
            // Still opening (a restore can take seconds): try again at the next tick. Ended: stop.
            if (m.ended) declined = true
            coordinator?.decline(m.id, m.ended)
            return
          case 'failed':
            if (m.metrics !== null) last[w] = m.metrics
            fail(new SluiceError(m.error.code in ERROR_CODE_SET ? (m.error.code as never) : 'WORKER_FAILED', `${stripCode(m.error.message)} (worker ${w} of ${workers})`))
            return
          default:
            assertNever(m)
        }
      })
      t.on('error', (e) => fail(new SluiceError('WORKER_FAILED', `worker ${w} of ${workers} crashed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })))
      t.on('exit', (code) => {
        exited[w] = true
        if (!finished[w]) fail(new SluiceError('WORKER_FAILED', `worker ${w} of ${workers} exited with code ${code} before the job finished`))
        else settleIfDone()
      })
    }
  })
  // A finished job's checkpoints are cleared before `done` resolves (the same command then starts afresh).
  const ended = afterCheckpoints(
    coordinator,
    closeDeadLetters(letters, coordinator, done).catch((e: unknown) => {
      status = 'failed'
      throw e
    }),
  )
  coordinator?.start()
  ended.catch(() => {}).finally(() => {
    stdinRelease()
    for (const p of feedEnds) p.close()
  })
  return {
    done: ended,
    status: () => status,
    stop: () => {
      for (const t of threads) t.postMessage({ type: 'stop' })
      return ended
    },
    metrics: merged,
    checkpoints: () => coordinator?.stats ?? null,
    savepoint: (dir) => (coordinator === null ? Promise.reject(noCheckpointsError(o.name ?? 'job')) : coordinator.savepoint(dir)),
  }
}

const ERROR_CODE_SET: Record<string, unknown> = ERROR_CODES

/** A serialized SluiceError's message starts with its code; the re-created error adds it again. */
function stripCode(message: string): string {
  return message.replace(/^[A-Z_]+: /, '')
}
