/**
 * The state backend of a stateful operator instance, made in its `open`: the one its context
 * names (OperatorContext.stateBackend), else the heap backend. TTL runs on the context's clock
 * (processing time) and on `eventNow` (event time; by default the task's watermark).
 */
import type { StateBackend } from '../state/backend.ts'
import { heapStateBackend } from '../state/heap-backend.ts'
import type { OperatorContext } from './types.ts'

export function openState(ctx: OperatorContext, eventNow: () => number = () => ctx.currentWatermark()): StateBackend {
  const make = ctx.stateBackend ?? heapStateBackend
  return make({ processingNow: () => ctx.clock.now(), eventNow })
}
