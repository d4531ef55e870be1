/**
 * Turns the logical graph into a physical plan and then into tasks and channels.
 *
 * Physical plan: every node gets a parallelism (declared, or the job default; sources that cannot
 * split and sinks that are not `parallel` run at 1). An edge declared forward between
 * nodes of different parallelism becomes rebalance. A forward edge between equal parallelisms
 * whose producer has one main consumer and whose consumer has one input is CHAINED: the two
 * operators run in one task by direct calls (Flink's rule), unless chaining is disabled.
 *
 * Tasks: one per (chain, subtask). Every non-chained edge becomes one bounded channel per
 * (producer subtask, consumer subtask) pair it connects, and each producer subtask gets a route
 * that spreads its batches over its channels by the edge's partitioning.
 */
import { SluiceError } from '../../errors.ts'
import type { Edge, GraphNode, LogicalGraph } from '../../graph/logical.ts'
import type { Operator } from '../../operators/types.ts'
import type { Clock } from '../../time/clock.ts'
import type { RecordSchema } from '../../graph/schema.ts'
import { LocalChannel, type InChannel } from '../exchange/channel.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import { fuseLinks, isFusable } from './fusion.ts'
import { OperatorMetrics } from '../../metrics/task-metrics.ts'
import { Collector, OperatorContextImpl } from './operator-context.ts'
import { rejectRecord } from '../../operators/record-errors.ts'
import { RingOutChannel, type RejectOutput } from '../exchange/ring-channel.ts'
import { OutputRoute, type OutChannel, type RouteKind } from '../exchange/route.ts'
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

export function workerOf(task: { subtask: number }, workers: number): number {
  return task.subtask % workers
}

export interface PhysicalEdge {
  readonly edge: Edge
  readonly kind: RouteKind
  readonly chained: boolean
}

export interface PhysicalPlan {
  readonly parallelism: ReadonlyMap<string, number>
  readonly edges: readonly PhysicalEdge[]
  /** Chains in topological order: node ids, head first. */
  readonly chains: readonly (readonly string[])[]
  readonly maxParallelism: number
}

export function physicalPlan(graph: LogicalGraph, defaultParallelism = 1, maxParallelism = 128): PhysicalPlan {
  if (!Number.isInteger(defaultParallelism) || defaultParallelism < 1) {
    throw new SluiceError('PARALLELISM_INVALID', `parallelism must be a whole number >= 1, got ${defaultParallelism}`)
  }
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
    throw new SluiceError('PARALLELISM_INVALID', `maxParallelism must be a whole number >= 1, got ${maxParallelism}`)
  }
  const parallelism = new Map<string, number>()
  for (const node of graph.nodes.values()) {
    let p = node.parallelism ?? (node.type === 'sink' && node.sink.parallel !== true ? 1 : defaultParallelism)
    if (node.type === 'sink' && node.sink.parallel !== true && p > 1) {
      throw new SluiceError('PARALLELISM_INVALID', `sink "${node.id}" (${node.sink.kind}) cannot run as parallel writers, so it cannot run at parallelism ${p}; leave its parallelism unset or 1`)
    }
    if (node.type === 'source' && node.source.splittable !== true) {
      if (node.parallelism !== undefined && node.parallelism > 1) {
        throw new SluiceError('PARALLELISM_INVALID', `source "${node.id}" (${node.source.kind}) cannot be split, so it cannot run at parallelism ${node.parallelism}; leave its parallelism unset or 1`)
      }
      p = 1
    }
    if (p > maxParallelism) {
      throw new SluiceError('PARALLELISM_INVALID', `"${node.id}" has parallelism ${p}, above maxParallelism ${maxParallelism} (the number of key groups); lower it, or raise maxParallelism in new Pipeline(name, { maxParallelism })`)
    }
    parallelism.set(node.id, p)
  }
  const kindOf = (e: Edge): RouteKind => {
    const k = e.partitioning.kind
    if (k === 'forward' && parallelism.get(e.from) !== parallelism.get(e.to)) return 'rebalance'
    return k
  }
  const chainedEdge = (e: Edge): boolean => {
    if (kindOf(e) !== 'forward' || e.sideTag !== null) return false
    const to = graph.nodes.get(e.to) as GraphNode
    const from = graph.nodes.get(e.from) as GraphNode
    if (to.type === 'operator' && to.inputs !== 1) return false
    if (to.chaining === 'disabled' || to.chaining === 'new-chain' || from.chaining === 'disabled') return false
    if (graph.incoming(e.to).length !== 1) return false
    return graph.outgoing(e.from).filter((o) => o.sideTag === null).length === 1
  }
  const edges = graph.edges.map((edge) => ({ edge, kind: kindOf(edge), chained: chainedEdge(edge) }))
  const chains: string[][] = []
  const chainOf = new Map<string, string[]>()
  for (const id of graph.topologicalOrder()) {
    const inEdges = edges.filter((e) => e.edge.to === id)
    const prev = inEdges.length === 1 && inEdges[0].chained ? chainOf.get(inEdges[0].edge.from) : undefined
    const chain = prev ?? []
    if (prev === undefined) chains.push(chain)
    chain.push(id)
    chainOf.set(id, chain)
  }
  return { parallelism, edges, chains, maxParallelism }
}

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
        task.addLink({ id, label: node.label, op, ctx, out: new Collector(), metrics, sideRoutes: new Map(), sink })
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

/**
 * A fingerprint of what a plan is made of: ids, kinds, labels, parallelism and edges. Worker
 * threads rebuild the job from its module; a different fingerprint means the module does not
 * build the same job every time it is imported, and the job must not run.
 */
export function planFingerprint(graph: LogicalGraph, plan: PhysicalPlan): string {
  const nodes = [...graph.nodes.values()].map((n) => [n.id, n.type, n.label, plan.parallelism.get(n.id), n.chaining ?? 'default', n.type === 'source' ? n.source.kind : n.type === 'sink' ? n.sink.kind : n.inputs, n.schema?.fingerprint ?? null])
  const edges = plan.edges.map((e) => [e.edge.from, e.edge.sideTag, e.edge.to, e.edge.input, e.kind, e.chained])
  return JSON.stringify({ nodes, edges, maxParallelism: plan.maxParallelism })
}

/** A readable description of the physical plan: chains, parallelism and the exchanges. */
export function explainPlan(graph: LogicalGraph, plan: PhysicalPlan): string {
  const lines: string[] = []
  plan.chains.forEach((chain, i) => {
    const parts: string[] = []
    let run: GraphNode[] = []
    const flush = (): void => {
      if (run.length >= 2) parts.push(`${run.map((n) => n.id).join('+')} [fused(${run.map((n) => n.label).join(', ')})]`)
      else for (const n of run) parts.push(`${n.id} [${n.label}]`)
      run = []
    }
    for (const id of chain) {
      const n = graph.nodes.get(id) as GraphNode
      if (n.type === 'operator' && isFusable(n.create())) {
        run.push(n)
        continue
      }
      flush()
      parts.push(n.type === 'source' ? `${id} [source ${n.source.kind}${n.watermarks ? ', event time' : ''}]` : `${id} [${n.label}]`)
    }
    flush()
    lines.push(`task ${i + 1} (parallelism ${plan.parallelism.get(chain[0])}): ${parts.join(' -> ')}`)
    for (const pe of plan.edges) {
      if (pe.chained || !chain.includes(pe.edge.from)) continue
      const e = pe.edge
      const what = pe.kind === 'hash' ? 'hash (keyBy, by key group)' : pe.kind
      const schema = e.sideTag === null ? graph.nodes.get(e.from)?.schema : undefined
      const codec = schema === undefined ? '' : `, columnar (${schema.fields.length} fields) across threads`
      lines.push(`    ${e.from}${e.sideTag === null ? '' : `[side output "${e.sideTag}"]`} -> ${e.to}: ${what} exchange, ${plan.parallelism.get(e.from)} -> ${plan.parallelism.get(e.to)} subtasks${codec}`)
    }
  })
  return lines.join('\n')
}
