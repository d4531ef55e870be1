/**
 * Turns the logical graph into tasks and channels. One-to-one forward edges between nodes with a
 * single producer and consumer are chained (fused into one task, called directly); every other
 * edge (keyBy exchanges, fan-out, union and join inputs) becomes a bounded channel between tasks.
 * Everything runs at parallelism 1 in one thread here; the same chains become subtasks on
 * worker threads when parallelism arrives.
 */
import type { Edge, GraphNode, LogicalGraph } from '../graph/logical.ts'
import type { Operator } from '../operators/types.ts'
import type { Clock } from '../time/clock.ts'
import { LocalChannel } from './channel.ts'
import type { DeadLetterRouter } from './dead-letters.ts'
import { OperatorMetrics } from './metrics.ts'
import { Collector, OperatorContextImpl } from './operator-context.ts'
import { SinkOperator } from './sink-operator.ts'
import { SourceTask } from './source-task.ts'
import { Task, type Scheduler } from './task.ts'
import { fuseLinks } from './fusion.ts'

export interface PlanOptions {
  readonly clock: Clock
  readonly deadLetters: DeadLetterRouter
  readonly scheduler: Scheduler
  /** Channel capacity in records. */
  readonly channelCapacity: number
  /** Fuse runs of map/filter/flatMap into one loop (default true). */
  readonly fuse?: boolean
}

function isChained(graph: LogicalGraph, e: Edge): boolean {
  if (e.partitioning.kind !== 'forward' || e.sideTag !== null) return false
  const to = graph.nodes.get(e.to) as GraphNode
  if (to.type === 'operator' && to.inputs !== 1) return false
  if (graph.incoming(e.to).length !== 1) return false
  return graph.outgoing(e.from).filter((o) => o.sideTag === null).length === 1
}

export function buildTasks(graph: LogicalGraph, o: PlanOptions): Task[] {
  const tasks: Task[] = []
  const where = new Map<string, { task: Task; index: number }>()
  for (const id of graph.topologicalOrder()) {
    const node = graph.nodes.get(id) as GraphNode
    if (node.type === 'source') {
      const t = new SourceTask(node, o.clock, o.deadLetters, o.scheduler)
      tasks.push(t)
      where.set(id, { task: t, index: -1 })
      continue
    }
    const inEdges = graph.incoming(id)
    const chainedFrom = inEdges.length === 1 && isChained(graph, inEdges[0]) ? where.get(inEdges[0].from) : undefined
    const task = chainedFrom?.task ?? new Task(id, o.clock, o.deadLetters, o.scheduler)
    if (chainedFrom === undefined) tasks.push(task)
    const index = task.links.length
    const metrics = new OperatorMetrics(id)
    const ctx = new OperatorContextImpl(id, index, task, node.onError, node.deadLetter, metrics)
    const sink = node.type === 'sink' ? new SinkOperator(id, node.sink) : null
    const op = node.type === 'sink' ? (sink as SinkOperator<unknown>) : (node.create() as Operator<unknown, unknown>)
    task.addLink({ id, label: node.label, op, ctx, out: new Collector(), metrics, sideRoutes: new Map(), sink })
    where.set(id, { task, index })
  }
  for (const e of graph.edges) {
    if (isChained(graph, e)) continue
    const from = where.get(e.from) as { task: Task; index: number }
    const to = where.get(e.to) as { task: Task; index: number }
    const ch = new LocalChannel<unknown>(`${e.from}${e.sideTag === null ? '' : `[${e.sideTag}]`} -> ${e.to}`, o.channelCapacity)
    if (e.sideTag !== null) {
      const routes = from.task.links[from.index].sideRoutes
      const list = routes.get(e.sideTag) ?? []
      list.push(ch)
      routes.set(e.sideTag, list)
    } else {
      from.task.mainRoutes.push(ch)
    }
    from.task.outputs.push(ch)
    to.task.inputs.push({ channel: ch, input: e.input, watermark: Number.NEGATIVE_INFINITY, idle: false, ended: false })
  }
  if (o.fuse !== false) for (const t of tasks) t.setExecutedLinks(fuseLinks(t.links))
  return tasks
}

/** A readable description of the physical plan: tasks (chains) and the exchanges between them. */
export function explainTasks(graph: LogicalGraph, tasks: readonly Task[]): string {
  const lines: string[] = []
  tasks.forEach((t, i) => {
    const parts: string[] = []
    if (t instanceof SourceTask) parts.push(`${t.id} [source ${t.node.source.kind}${t.node.watermarks ? ', event time' : ''}]`)
    for (const l of t.links) parts.push(`${l.id} [${l.label}]`)
    lines.push(`task ${i + 1} (parallelism 1): ${parts.join(' -> ')}`)
    for (const ch of t.outputs) {
      const e = graph.edges.find((x) => ch.label === `${x.from}${x.sideTag === null ? '' : `[${x.sideTag}]`} -> ${x.to}`)
      const kind = e === undefined ? 'forward' : e.partitioning.kind === 'hash' ? 'hash (keyBy)' : e.sideTag !== null ? `side output "${e.sideTag}"` : 'forward'
      lines.push(`    ${ch.label}: ${kind} exchange, capacity ${ch.capacityRecords} records`)
    }
  })
  return lines.join('\n')
}
