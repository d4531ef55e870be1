/** How the stream classes add an asynchronous operator (mapAsync, flatMapAsync, mapAsyncBatch, lookupJoin). */
import { SluiceError } from '../errors.ts'
import type { GraphNode, Partitioning } from '../graph/logical.ts'
import { AsyncOperator, type AsyncCall, type AsyncOperatorParts } from '../operators/async/async-operator.ts'
import { resolveAsyncOptions, type AsyncBatchOptions, type KeyedAsyncOptions } from '../operators/async/options.ts'
import type { Operator } from '../operators/types.ts'
import type { OperatorOptions } from './options.ts'
import type { Stream } from './stream.ts'

/** What one asynchronous method adds. */
export interface AsyncSpec {
  readonly method: string
  readonly call: AsyncCall
  readonly options: (AsyncBatchOptions & KeyedAsyncOptions) | undefined
  readonly batched: boolean
  /** A keyed stream's partitioning and key (keyed streams only). */
  readonly keyed?: { readonly partitioning: Partitioning; readonly key: (v: unknown) => unknown }
  /** More of the operator's parts (a lookup join's cache). */
  readonly extra?: () => Pick<AsyncOperatorParts, 'open' | 'close' | 'call'>
}

/**
 * Adds the operator. It always starts a new chain: the task it heads takes input only while the
 * operator has room, and holds its watermarks until the records before them have left.
 */
export function addAsync<T, O>(input: Stream<T>, id: string, spec: AsyncSpec): Stream<O> {
  const options = resolveAsyncOptions(id, spec.method, spec.options, spec.batched)
  if (options.keyOrder && spec.keyed === undefined) {
    throw new SluiceError('ASYNC_OPTIONS_INVALID', `${spec.method} "${id}": keyOrder keeps the order per key, so it needs a keyed stream: call .keyBy(key) before .${spec.method}()`)
  }
  const keyOf = spec.keyed?.key ?? null
  const create = (): Operator<T, O> => {
    const extra = spec.extra?.()
    return new AsyncOperator({ method: spec.method, call: extra?.call ?? spec.call, options, keyOf, open: extra?.open, close: extra?.close }) as unknown as Operator<T, O>
  }
  const label = `${spec.method}(${options.ordered ? 'ordered' : 'unordered'}, concurrency ${options.concurrency}${spec.batched ? `, maxBatch ${options.maxBatch}` : ''}${options.keyOrder ? ', key order' : ''})`
  const out = input.addOperator<O>(id, label, create, spec.options as OperatorOptions | undefined, spec.keyed?.partitioning ?? input.exchange, spec.keyed !== undefined)
  ;(input.pipeline.graph.nodes.get(id) as GraphNode).chaining = 'new-chain'
  return out
}
