/**
 * An attempt on worker threads. The coordinator (this thread) plans the job, creates a ring for
 * every channel whose ends land on different workers, starts the workers with the job's module
 * reference and the rings, and merges their reports. Any worker failure stops the whole attempt:
 * the other workers are terminated and `done` rejects with the cause (operator, subtask, reason)
 * — no hung process, no orphan threads.
 *
 * Each worker moves through starting → ready → finished → exited (WorkerSlot); the attempt has
 * finished when every worker has exited after finishing, and has failed as soon as one reports a
 * failure, crashes, or exits before finishing.
 */
import { availableParallelism } from 'node:os'
import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads'
import { deserializeError, SluiceError } from '../../errors.ts'
import type { JobModuleRef } from '../../graph/job.ts'
import type { LogicalGraph } from '../../graph/logical.ts'
import { physicalPlan, planFingerprint, workerOf, type PhysicalPlan } from '../../graph/physical.ts'
import type { JobMetrics } from '../../metrics/task-metrics.ts'
import { jobWarnings } from '../../metrics/job-warnings.ts'
import { systemClock } from '../../time/clock.ts'
import type { CheckpointOptions } from '../checkpoint/options.ts'
import type { CheckpointStats } from '../checkpoint/stats.ts'
import { checkpointFor } from '../checkpoint/subset.ts'
import type { Checkpoint } from '../checkpoint/storage.ts'
import { LocalChannel } from '../exchange/channel.ts'
import { SabRing } from '../exchange/ring/sab-ring.ts'
import { buildTasks } from '../task/build-tasks.ts'
import { closeDeadLetters, DeadLetterRouter, deadLetterSinks, DeadLetterWriters } from '../task/dead-letters.ts'
import { JobRunner, type JobResult, type JobStatus } from '../task/job-runner.ts'
import { startJobWorker } from '../worker/start-worker.ts'
import { assertNever, type FromWorker, type ToWorker, type WorkerStart } from '../worker/protocol.ts'
import { noCheckpointsError } from '../checkpoint/savepoints.ts'
import { afterCheckpoints, type Attempt } from './attempt.ts'
import { CheckpointCoordinator } from './checkpoint-coordinator.ts'
import type { CheckpointParticipants } from './local-participants.ts'

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
/** Workers exit by themselves once finished (flushing their stdio); one that lingers this long is ended. */
const LINGER_MS = 5000

export function defaultWorkers(parallelism: number): number {
  return Math.max(1, Math.min(parallelism, availableParallelism()))
}

type WorkerPhase = 'starting' | 'ready' | 'finished' | 'exited'

/** One worker thread and what it last reported. */
interface WorkerSlot {
  readonly index: number
  readonly thread: Worker
  phase: WorkerPhase
  metrics: JobMetrics | null
  /** How its tasks ended; set with phase 'finished'. */
  ended: 'finished' | 'stopped' | null
}

export function runThreaded(graph: LogicalGraph, job: JobModuleRef, o: ThreadedRunOptions): Attempt {
  return new ThreadedAttempt(graph, job, o)
}

/** Learns every cross-thread channel of the placement by a dry run of the task build, and makes a ring for each. */
function ringsFor(graph: LogicalGraph, o: ThreadedRunOptions, workers: number): Record<string, SharedArrayBuffer> {
  const rings: Record<string, SharedArrayBuffer> = {}
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
  return rings
}

class ThreadedAttempt implements Attempt {
  readonly done: Promise<JobResult>
  private readonly workers: number
  private readonly plan: PhysicalPlan
  private readonly slots: WorkerSlot[] = []
  private readonly coordinator: CheckpointCoordinator | null
  /** Dead letters from every worker are written here, by the one thread that owns the sinks. */
  private readonly letters: DeadLetterWriters
  private state: JobStatus = 'running'
  /** A worker said its tasks ended: checkpoints cannot complete any more. */
  private declined = false
  private readonly startedAt = performance.now()
  private readyAt = 0
  private finishedAt = 0
  private lingerTimer: NodeJS.Timeout | null = null
  /** Ports of sources fed from this thread (HTTP ingest), closed when the attempt ends. */
  private readonly feedEnds: MessagePort[] = []
  private stdinRelease = (): void => {}
  private settle: { resolve(r: JobResult): void; reject(e: SluiceError): void } | null = null

  constructor(
    private readonly graph: LogicalGraph,
    private readonly job: JobModuleRef,
    private readonly o: ThreadedRunOptions,
  ) {
    this.workers = o.workers ?? defaultWorkers(o.parallelism)
    this.plan = physicalPlan(graph, o.parallelism, o.maxParallelism)
    const rings = ringsFor(graph, o, this.workers)
    this.coordinator = o.checkpoints === undefined ? null : new CheckpointCoordinator(o.checkpoints, o.name ?? 'job', graph, o.parallelism, o.maxParallelism)
    this.letters = new DeadLetterWriters(deadLetterSinks(graph), this.coordinator !== null)
    const restore = this.coordinator === null ? null : this.coordinator.load(this.participants(), (e) => this.fail(e instanceof SluiceError ? e : new SluiceError('CHECKPOINT_IO', `checkpoint failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })))
    const running = new Promise<JobResult>((resolve, reject) => {
      this.settle = { resolve, reject }
    })
    this.letters.open(systemClock, this.coordinator === null ? undefined : (restore?.deadLetters ?? null)).catch((e: unknown) => this.fail(e as SluiceError))
    this.spawn(rings, restore)
    // A finished job's checkpoints are cleared before `done` resolves (the same command then starts afresh).
    this.done = afterCheckpoints(
      this.coordinator,
      closeDeadLetters(this.letters, this.coordinator, running).catch((e: unknown) => {
        this.state = 'failed'
        throw e
      }),
    )
    this.coordinator?.start()
    this.done.catch(() => {}).finally(() => {
      this.stdinRelease()
      for (const p of this.feedEnds) p.close()
    })
  }

  status(): JobStatus {
    return this.state
  }

  stop(): Promise<JobResult> {
    for (const s of this.slots) s.thread.postMessage({ type: 'stop' } satisfies ToWorker)
    return this.done
  }

  metrics(): JobMetrics {
    return {
      operators: this.slots.flatMap((s) => s.metrics?.operators ?? []),
      tasks: this.slots.flatMap((s) => s.metrics?.tasks ?? []),
      threads: this.slots.flatMap((s) => s.metrics?.threads ?? []),
    }
  }

  checkpoints(): CheckpointStats | null {
    return this.coordinator?.stats ?? null
  }

  savepoint(dir: string): Promise<string> {
    return this.coordinator === null ? Promise.reject(noCheckpointsError(this.o.name ?? 'job')) : this.coordinator.savepoint(dir)
  }

  /** Checkpoints: this thread coordinates; the workers' tasks align barriers and acknowledge by message. */
  private participants(): CheckpointParticipants {
    const taskCount = this.plan.chains.reduce((n, chain) => n + (this.plan.parallelism.get(chain[0]) as number), 0)
    const sourceSubtasks = new Map<string, number>()
    for (const n of this.graph.nodes.values()) if (n.type === 'source') sourceSubtasks.set(n.id, this.plan.parallelism.get(n.id) as number)
    return {
      taskCount,
      sourceSubtasks,
      deadLetters: this.letters,
      allRunning: () => !this.declined && this.state === 'running' && this.slots.length === this.workers && this.slots.every((s) => s.phase === 'ready'),
      triggerSources: (id) => {
        for (const s of this.slots) s.thread.postMessage({ type: 'checkpoint', id } satisfies ToWorker)
      },
      commit: async (id, acks) => {
        // Each worker gets back the buffers its tasks' state came in (moved, not copied).
        const buffers: Set<ArrayBuffer>[] = this.slots.map(() => new Set())
        for (const a of acks.values()) {
          const w = workerOf(a, this.workers)
          for (const chunks of Object.values(a.operators)) for (const b of chunks) if (b.buffer instanceof ArrayBuffer && b.buffer.byteLength > 0) buffers[w].add(b.buffer)
        }
        for (const s of this.slots) {
          const list = [...buffers[s.index]]
          s.thread.postMessage({ type: 'commit', id, buffers: list } satisfies ToWorker, list)
        }
      },
    }
  }

  private spawn(rings: Record<string, SharedArrayBuffer>, restore: Checkpoint | null): void {
    const workers = this.workers
    // Sources fed from this thread (HTTP ingest: the server runs here): a channel each, between the
    // graph's instance here and the instance of the worker that runs the source's only subtask.
    const feeds: Record<string, MessagePort>[] = Array.from({ length: workers }, () => ({}))
    for (const n of this.graph.nodes.values()) {
      if (n.type !== 'source' || n.source.attachFeed === undefined) continue
      const { port1, port2 } = new MessageChannel()
      n.source.attachFeed(port1, 'main')
      feeds[workerOf({ subtask: 0 }, workers)][n.id] = port2
      this.feedEnds.push(port1)
    }
    const readsStdin = [...this.graph.nodes.values()].some((n) => n.type === 'source' && n.source.kind === 'stdin')
    const fingerprint = planFingerprint(this.graph, this.plan)
    for (let w = 0; w < workers; w++) {
      const checkpoints = this.coordinator === null ? null : { restore: restore === null ? null : checkpointFor(restore, (op) => this.plan.parallelism.get(op) ?? 1, (s) => workerOf({ subtask: s }, workers) === w) }
      const start: WorkerStart = { job: this.job, worker: w, workers, parallelism: this.o.parallelism, channelCapacity: this.o.channelCapacity, fuse: this.o.fuse, latencyMarkerIntervalMs: this.o.latencyMarkerIntervalMs, fingerprint, rings, checkpoints, feeds: feeds[w] }
      // Sources that cannot split run on worker 0; a stdin source there reads this process's stdin.
      const thread = startJobWorker({ workerData: start, stdin: w === 0 && readsStdin, transferList: Object.values(feeds[w]) })
      if (w === 0 && readsStdin && thread.stdin !== null) {
        const workerStdin = thread.stdin
        process.stdin.pipe(workerStdin)
        // Release this process's stdin when the job ends, or it keeps the process alive.
        this.stdinRelease = () => {
          process.stdin.unpipe(workerStdin)
          process.stdin.pause()
        }
      }
      const slot: WorkerSlot = { index: w, thread, phase: 'starting', metrics: null, ended: null }
      this.slots.push(slot)
      thread.on('message', (m: FromWorker) => this.onMessage(slot, m))
      thread.on('error', (e) => this.fail(new SluiceError('WORKER_FAILED', `worker ${w} of ${workers} crashed: ${e instanceof Error ? e.message : String(e)}`, { cause: e })))
      thread.on('exit', (code) => {
        const finished = slot.phase === 'finished'
        slot.phase = 'exited'
        if (!finished) this.fail(new SluiceError('WORKER_FAILED', `worker ${w} of ${workers} exited with code ${code} before the job finished`))
        else this.settleIfDone()
      })
    }
  }

  private onMessage(slot: WorkerSlot, m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        if (slot.phase === 'starting') slot.phase = 'ready'
        if (this.slots.length === this.workers && this.slots.every((s) => s.phase !== 'starting')) this.readyAt ||= performance.now()
        return
      case 'metrics':
        slot.metrics = m.metrics
        return
      case 'dead-letters':
        this.letters.write({ sink: m.sink, letters: m.letters }).catch((e: unknown) => this.fail(e as SluiceError))
        return
      case 'finished':
        slot.metrics = m.metrics
        slot.phase = 'finished'
        slot.ended = m.status
        if (this.slots.every((s) => s.phase === 'finished' || s.phase === 'exited')) {
          this.finishedAt = performance.now()
          this.lingerTimer = setTimeout(() => {
            for (const s of this.slots) void s.thread.terminate()
          }, LINGER_MS)
          this.lingerTimer.unref()
          this.settleIfDone()
        }
        return
      case 'ack':
        this.coordinator?.ack(m.task, m.subtask, m.id, m.parts)
        return
      case 'decline':
        // Still opening (a restore can take seconds): try again at the next tick. Ended: stop.
        if (m.ended) this.declined = true
        this.coordinator?.decline(m.id, m.ended)
        return
      case 'failed':
        if (m.metrics !== null) slot.metrics = m.metrics
        this.fail(deserializeError(m.error, `worker ${slot.index} of ${this.workers}`))
        return
      default:
        assertNever(m)
    }
  }

  /** Resolves once every worker finished and exited; every letter has arrived by then (they precede 'finished' on each port). */
  private settleIfDone(): void {
    if (this.state === 'failed' || this.settle === null || !this.slots.every((s) => s.phase === 'exited' && s.ended !== null)) return
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer)
    this.state = this.slots.some((s) => s.ended === 'stopped') ? 'stopped' : 'finished'
    const metrics = this.metrics()
    this.settle.resolve({ status: this.state, durationMs: this.finishedAt - this.startedAt, startupMs: this.readyAt - this.startedAt, metrics, warnings: jobWarnings(metrics) })
  }

  private fail(e: SluiceError): void {
    // Before the attempt's promise exists (while the checkpoint loads) there is nothing to fail yet.
    if (this.state === 'failed' || this.settle === null) return
    this.state = 'failed'
    for (const s of this.slots) void s.thread.terminate()
    this.settle?.reject(e)
  }
}
