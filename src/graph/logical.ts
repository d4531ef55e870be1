/**
 * The logical graph: what the API builds. Nodes are sources, operators and sinks with stable ids;
 * edges say how records are partitioned between them. Operators are created per run from their
 * factory, so a graph can be instantiated more than once (and, later, in every worker).
 */
import type { ErrorPolicy, DeadLetter, Sink, Source } from '../connectors/spi.ts'
import { SluiceError } from '../errors.ts'
import type { Operator } from '../operators/types.ts'
import type { WatermarkStrategy } from '../time/watermarks.ts'
import type { RecordSchema } from './schema.ts'

export type Partitioning =
  | { readonly kind: 'forward' }
  | { readonly kind: 'rebalance' }
  | { readonly kind: 'broadcast' }
  | { readonly kind: 'hash'; readonly key: (v: never) => unknown }

/** Chaining hints: 'disabled' keeps a node out of any chain; 'new-chain' starts one at it. */
export type ChainingHint = 'default' | 'disabled' | 'new-chain'

export interface Edge {
  readonly from: string
  /** The side output of `from` this edge carries, or null for its main output. */
  readonly sideTag: string | null
  readonly to: string
  /** Input index at `to` (0, or 1 for the right side of a two-input operator). */
  readonly input: number
  readonly partitioning: Partitioning
}

interface NodeBase {
  readonly id: string
  /** Kind shown by explain(), e.g. "map", "window(tumbling 10000ms).aggregate". */
  readonly label: string
  readonly onError: ErrorPolicy
  readonly deadLetter: Sink<DeadLetter> | undefined
  /** Declared parallelism; undefined takes the job default. Set by `.parallelism(n)`. */
  parallelism?: number
  chaining?: ChainingHint
  /** Declared schema of its main output (`.schema(...)`): cross-thread channels encode those records column-wise. */
  schema?: RecordSchema<unknown>
}

export interface SourceNode extends NodeBase {
  readonly type: 'source'
  readonly source: Source<unknown>
  readonly watermarks: WatermarkStrategy<unknown> | undefined
  readonly batchSize: number
}

export interface OperatorNode extends NodeBase {
  readonly type: 'operator'
  readonly inputs: 1 | 2
  /** Keyed operators require hash-partitioned inputs. */
  readonly keyed: boolean
  readonly create: () => Operator<unknown, unknown>
}

export interface SinkNode extends NodeBase {
  readonly type: 'sink'
  readonly sink: Sink<unknown>
}

export type GraphNode = SourceNode | OperatorNode | SinkNode

const ID_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/

export class LogicalGraph {
  readonly nodes = new Map<string, GraphNode>()
  readonly edges: Edge[] = []

  addNode(node: GraphNode): void {
    if (typeof node.id !== 'string' || !ID_PATTERN.test(node.id)) {
      throw new SluiceError('JOB_INVALID_ID', `invalid operator id ${JSON.stringify(node.id)} for ${node.label}`)
    }
    if (this.nodes.has(node.id)) {
      throw new SluiceError('JOB_DUPLICATE_ID', `operator id "${node.id}" is used twice (${this.nodes.get(node.id)?.label} and ${node.label})`)
    }
    this.nodes.set(node.id, node)
  }

  addEdge(edge: Edge): void {
    this.edges.push(edge)
  }

  outgoing(id: string): Edge[] {
    return this.edges.filter((e) => e.from === id)
  }

  incoming(id: string): Edge[] {
    return this.edges.filter((e) => e.to === id)
  }

  /** Build-time checks; throws a SluiceError with a code naming the problem. */
  validate(): void {
    if (this.nodes.size === 0) throw new SluiceError('JOB_EMPTY', 'the pipeline has no sources')
    let sinks = 0
    for (const node of this.nodes.values()) {
      if (node.type === 'sink') sinks++
      if (node.onError === 'dead-letter' && node.deadLetter === undefined) {
        throw new SluiceError('ERROR_POLICY_INVALID', `"${node.id}" has onError: 'dead-letter' but no dead-letter sink; pass deadLetter in its options or in new Pipeline(name, { deadLetter })`)
      }
      if (node.type === 'operator' && node.keyed) {
        for (const e of this.incoming(node.id)) {
          if (e.partitioning.kind !== 'hash') {
            throw new SluiceError('JOB_KEYBY_REQUIRED', `"${node.id}" (${node.label}) is keyed but its input from "${e.from}" is not; call .keyBy(...) first`)
          }
        }
      }
    }
    if (sinks === 0) throw new SluiceError('JOB_NO_SINK', 'the pipeline has no sink')
  }

  /** Node ids in topological order (sources first). */
  topologicalOrder(): string[] {
    const indeg = new Map<string, number>()
    for (const id of this.nodes.keys()) indeg.set(id, 0)
    for (const e of this.edges) indeg.set(e.to, (indeg.get(e.to) ?? 0) + 1)
    const ready = [...indeg].filter(([, d]) => d === 0).map(([id]) => id)
    const order: string[] = []
    while (ready.length > 0) {
      const id = ready.shift() as string
      order.push(id)
      for (const e of this.outgoing(id)) {
        const d = (indeg.get(e.to) as number) - 1
        indeg.set(e.to, d)
        if (d === 0) ready.push(e.to)
      }
    }
    return order
  }
}
