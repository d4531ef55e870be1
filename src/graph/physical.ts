/**
 * The physical plan of a logical graph: every node gets a parallelism (declared, or the job
 * default; sources that cannot split and sinks that are not `parallel` run at 1). An edge declared
 * forward between nodes of different parallelism becomes rebalance. A forward edge between equal
 * parallelisms whose producer has one main consumer and whose consumer has one input is CHAINED:
 * the two operators run in one task by direct calls (Flink's rule), unless chaining is disabled.
 * The runtime turns a plan into tasks (runtime/task/build-tasks.ts); the monitor and `explain`
 * read it as it is.
 */
import { SluiceError } from '../errors.ts'
import type { Edge, GraphNode, LogicalGraph } from './logical.ts'

/** How a producer subtask spreads its batches over the consumer's subtasks. */
export type RouteKind = 'forward' | 'rebalance' | 'broadcast' | 'hash'

/**
 * The worker thread that runs subtask `task.subtask` of every chain: i mod `workers`, so every
 * thread that builds the plan places tasks the same way.
 */
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

/**
 * A readable description of the physical plan: chains, parallelism and the exchanges. Tasks are
 * numbered from 0, in plan order, as subtasks and workers are and as the monitor, the dashboard and
 * the API number them (`OperatorView.task`).
 */
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
      if (n.type === 'operator' && isFusable(n)) {
        run.push(n)
        continue
      }
      flush()
      parts.push(n.type === 'source' ? `${id} [source ${n.source.kind}${n.watermarks ? ', event time' : ''}]` : `${id} [${n.label}]`)
    }
    flush()
    lines.push(`task ${i} (parallelism ${plan.parallelism.get(chain[0])}): ${parts.join(' -> ')}`)
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


/** Map, filter and flatMap operators run fused in one loop when several follow each other in a chain. */
function isFusable(n: GraphNode): boolean {
  return n.type === 'operator' && (n.create() as { fusable?: unknown }).fusable !== undefined
}
