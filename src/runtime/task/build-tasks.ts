/**
 * Turns a physical plan into tasks and channels: one task per (chain, subtask). Every non-chained
 * edge becomes one bounded channel per (producer subtask, consumer subtask) pair it connects, and
 * each producer subtask gets a route that spreads its batches over its channels by the edge's
 * partitioning. With a placement, channels whose ends run on different worker threads are rings.
 */
import type { GraphNode, LogicalGraph } from '../../graph/logical.ts'
import { physicalPlan, workerOf } from '../../graph/physical.ts'
import type { Operator } from '../../operators/types.ts'
import type { Clock } from '../../time/clock.ts'
import type { RecordSchema } from '../../graph/schema.ts'
import { LocalChannel, type InChannel } from '../exchange/channel.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import { fuseLinks } from './fusion.ts'
import { OperatorMetrics } from '../../metrics/task-metrics.ts'
import { Collector, OperatorContextImpl } from './operator-context.ts'
import { rejectRecord } from '../../operators/record-errors.ts'
import { RingOutChannel, type RejectOutput } from '../exchange/ring-channel.ts'
import { OutputRoute, type OutChannel } from '../exchange/route.ts'
import { SinkOperator } from './sink-operator.ts'
import { SourceTask } from './source-task.ts'
import { Task, type Scheduler } from './task.ts'

export interface PlanOptions {
  readonly clock: Clock
  readonly deadLetters: DeadLetterRouter
  readonly scheduler: Scheduler
  /** Channel capacity in records. */
  readonly channelCapacity: number
  /** Parallelism of nodes that declare none. Default 1. */
  readonly parallelism?: number
  /** Number of key groups. Default 128. */
  readonly maxParallelism?: number
  /** Fuse runs of map/filter/flatMap into one loop (default true). */
  readonly fuse?: boolean
  /**
   * Sampled monitoring: latency markers from sources every `latencyMarkerIntervalMs` and hot-key
   * sampling on keyBy exchanges. Default on (200 ms); 0 turns both off. Counters are always on.
   */
  readonly latencyMarkerIntervalMs?: number
  /** Set when tasks are spread over worker threads; absent: everything runs here. */
  readonly placement?: Placement
}

/**
 * Where tasks run. Subtask i of every chain runs on worker i mod `workers`, so the assignment is
 * the same in every thread that builds the plan. A channel whose two ends are on different
 * workers is a cross-thread channel; `worker` -1 is the coordinator's dry run, which only learns
 * the cross-thread channels.
 */
export interface Placement {
  readonly worker: number
  readonly workers: number
  /** `schema`: the records' declared schema, if any (the channel then encodes column-wise). */
  crossChannel(label: string, end: 'producer' | 'consumer', schema: RecordSchema<unknown> | undefined): OutChannel | InChannel<unknown>
}

export const DEFAULT_MARKER_INTERVAL_MS = 200

export function buildTasks(graph: LogicalGraph, o: PlanOptions): Task[] {
  const plan = physicalPlan(graph, o.parallelism ?? 1, o.maxParallelism ?? 128)
  const tasks: Task[] = []
  /** node id → its tasks (one per subtask) and its position in their chains (-1: the source). */
  const where = new Map<string, { tasks: Task[]; index: number }>()
  for (const chain of plan.chains) {
    const head = graph.nodes.get(chain[0]) as GraphNode
    const p = plan.parallelism.get(head.id) as number
    const chainTasks: Task[] = []
    for (let i = 0; i < p; i++) {
      const task = head.type === 'source' ? new SourceTask(head, i, p, o.clock, o.deadLetters, o.scheduler) : new Task(head.id, i, p, o.clock, o.deadLetters, o.scheduler)
      chainTasks.push(task)
      tasks.push(task)
    }
    for (const id of chain) {
      const node = graph.nodes.get(id) as GraphNode
      if (node.type === 'source') {
        where.set(id, { tasks: chainTasks, index: -1 })
        continue
      }
      where.set(id, { tasks: chainTasks, index: chainTasks[0].links.length })
      for (const task of chainTasks) {
        const index = task.links.length
        const metrics = new OperatorMetrics(id)
        const ctx = new OperatorContextImpl(id, index, task, node.onError, node.deadLetter, metrics)
        const sink = node.type === 'sink' ? new SinkOperator(id, node.sink, task.subtask, task.parallelism) : null
        const op = node.type === 'sink' ? (sink as SinkOperator<unknown>) : (node.create() as Operator<unknown, unknown>)
        task.addLink({ id, label: node.label, op, ctx, out: new Collector(), metrics, sideRoutes: new Map(), external: sink })
      }
    }
  }
  for (const pe of plan.edges) {
    if (pe.chained) continue
    const e = pe.edge
    const from = where.get(e.from) as { tasks: Task[]; index: number }
    const to = where.get(e.to) as { tasks: Task[]; index: number }
    const key = e.partitioning.kind === 'hash' ? (e.partitioning.key as (v: unknown) => unknown) : null
    from.tasks.forEach((producer, i) => {
      const targets = pe.kind === 'forward' ? [to.tasks[i]] : to.tasks
      const place = o.placement
      const schema = e.sideTag === null ? graph.nodes.get(e.from)?.schema : undefined
      const channels = targets.map((consumer): OutChannel => {
        const label = `${e.from}${from.tasks.length > 1 ? `#${i}` : ''}${e.sideTag === null ? '' : `[${e.sideTag}]`} -> ${e.to}${to.tasks.length > 1 ? `#${consumer.subtask}` : ''}`
        const pw = place === undefined ? 0 : workerOf(producer, place.workers)
        const cw = place === undefined ? 0 : workerOf(consumer, place.workers)
        let out: OutChannel
        let input: InChannel<unknown>
        if (place === undefined || pw === cw) {
          const ch = new LocalChannel<unknown>(label, o.channelCapacity)
          out = ch
          input = ch
        } else {
          out = pw === place.worker || place.worker === -1 ? (place.crossChannel(label, 'producer', schema) as OutChannel) : new LocalChannel<unknown>(label, o.channelCapacity)
          input = cw === place.worker ? (place.crossChannel(label, 'consumer', schema) as InChannel<unknown>) : new LocalChannel<unknown>(label, o.channelCapacity)
        }
        if (out instanceof RingOutChannel) out.rejectOutput = rejectOutputOf(producer, from.index, e.from, label)
        consumer.inputs.push({ channel: input, input: e.input, watermark: Number.NEGATIVE_INFINITY, idle: false, ended: false })
        producer.outputs.push(out)
        return out
      })
      const route = new OutputRoute(pe.kind, channels, key, plan.maxParallelism, e.to, (o.latencyMarkerIntervalMs ?? DEFAULT_MARKER_INTERVAL_MS) > 0)
      if (e.sideTag !== null) {
        const routes = producer.links[from.index].sideRoutes
        routes.set(e.sideTag, [...(routes.get(e.sideTag) ?? []), route])
      } else {
        producer.mainRoutes.push(route)
      }
    })
  }
  const markers = o.latencyMarkerIntervalMs ?? DEFAULT_MARKER_INTERVAL_MS
  for (const t of tasks) if (t instanceof SourceTask) t.markerIntervalMs = markers
  const place = o.placement
  const mine = place === undefined ? tasks : tasks.filter((t) => workerOf(t, place.workers) === place.worker)
  if (o.fuse !== false) for (const t of mine) t.setExecutedLinks(fuseLinks(t.links))
  return mine
}

/**
 * A record that cannot cross threads goes through the policy of the node that emitted it (the
 * source, or the operator at `index` of the producer's chain) as RECORD_FAILED: the consumer
 * never saw it, and the producer's options are where the user said what bad records deserve.
 */
function rejectOutputOf(producer: Task, index: number, nodeId: string, channel: string): RejectOutput {
  const policy = index < 0 ? (producer as SourceTask).errorPolicy : producer.links[index].ctx.errorPolicy
  const position = `output to ${channel} (between threads)`
  return (record, message, reason, cause) => rejectRecord(policy, 'RECORD_FAILED', message, { operator: nodeId, position, reason, record }, cause)
}
