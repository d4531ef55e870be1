/** How the stream classes add an asynchronous operator (mapAsync, flatMapAsync, mapAsyncBatch, lookupJoin). */
import { SluiceError } from '../errors.ts'
import type { GraphNode, Partitioning } from '../graph/logical.ts'
import { AsyncOperator, type AsyncCall, type AsyncOperatorParts } from '../operators/async/async-operator.ts'
import { resolveAsyncOptions, type AsyncBatchOptions, type KeyedAsyncOptions } from '../operators/async/options.ts'
import type { Operator } from '../operators/types.ts'
import type { OperatorOptions } from './options.ts'
import { asLookupTable, lookupBatchFunction, type LookupEnvironment, type LookupFunction, type LookupTable, type ResolvedLookupOptions } from '../operators/async/lookup.ts'
import type { CallContext } from '../operators/async/options.ts'
import type { Stream } from './stream.ts'

/** What one asynchronous method adds. */
export interface AsyncSpec {
  readonly method: string
  /** The operator's call and its per-subtask setup, made for each subtask (a lookup join's has its own cache). */
  readonly parts: () => Pick<AsyncOperatorParts, 'call' | 'open' | 'close'>
  readonly options: (AsyncBatchOptions & KeyedAsyncOptions) | undefined
  readonly batched: boolean
  /** A keyed stream's partitioning and key (keyed streams only). */
  readonly keyed?: { readonly partitioning: Partitioning; readonly key: (v: unknown) => unknown }
}

/** The parts of an operator whose call is a plain function (mapAsync, flatMapAsync, mapAsyncBatch). */
export function callOf(call: AsyncCall): () => Pick<AsyncOperatorParts, 'call'> {
  return () => ({ call })
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
  const create = (): Operator<T, O> => new AsyncOperator({ ...spec.parts(), method: spec.method, options, keyOf }) as unknown as Operator<T, O>
  const label = `${spec.method}(${options.ordered ? 'ordered' : 'unordered'}, concurrency ${options.concurrency}${spec.batched ? `, maxBatch ${options.maxBatch}` : ''}${options.keyOrder ? ', key order' : ''})`
  const out = input.addOperator<O>(id, label, create, spec.options as OperatorOptions | undefined, spec.keyed?.partitioning ?? input.exchange, spec.keyed !== undefined)
  ;(input.pipeline.graph.nodes.get(id) as GraphNode).chaining = 'new-chain'
  return out
}

/**
 * The parts of a lookup join's operator, per subtask: the batch function over its own cache, the
 * table opened before the first call and closed at the end, and the cache's counters in the
 * subtask's call metrics.
 */
export function lookupParts<T, K, V, O>(id: string, keyFn: (record: T) => K, lookup: LookupTable<K, V> | LookupFunction<K, V>, options: ResolvedLookupOptions<T, V, O>): () => Pick<AsyncOperatorParts, 'open' | 'close' | 'call'> {
  const table = asLookupTable(lookup)
  return () => {
    const env: LookupEnvironment = { now: () => Date.now() }
    const batch = lookupBatchFunction(id, keyFn, table, options, env)
    let opened: Promise<void> | null = null
    const fn = async (records: unknown[], call: CallContext): Promise<unknown> => {
      // A failed open is not kept: the next call (a retry) opens again.
      if (table.open !== undefined) {
        await (opened ??= table.open().catch((e: unknown) => {
          opened = null
          throw e
        }))
      }
      return batch(records as T[], call)
    }
    return {
      call: { kind: 'batch', fn },
      open: (metrics, clock) => {
        env.stats = metrics
        env.now = () => clock.now()
      },
      close: () => (opened !== null && table.close !== undefined ? opened.then(() => table.close?.()) : undefined),
    }
  }
}
