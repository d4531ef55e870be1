/**
 * A task's event time. Each input carries the highest watermark it delivered, whether it is idle
 * and whether it ended; the task's watermark is the minimum over the inputs that are neither idle
 * nor ended, and only ever rises. When every open input is idle the task is idle downstream, so
 * one silent partition does not hold back every window after it.
 */
import { MAX_WATERMARK, MIN_WATERMARK } from '../../operators/types.ts'
import { IdleItem, WatermarkItem, type ControlItem } from '../exchange/channel.ts'
import type { TaskInput } from './task-types.ts'

/** recompute()'s answer when every open input is idle. */
export const IDLE = Number.NaN

export class WatermarkTracker {
  /** The task's watermark: what its operators have seen, and what it sent downstream. */
  current = MIN_WATERMARK
  /** Whether downstream was last told this task is idle. */
  private idleDownstream = false

  /** Input `inp` delivered a watermark, an idleness change or its end (the other control items go elsewhere). */
  static onInputItem(inp: TaskInput, item: ControlItem): void {
    if (item instanceof WatermarkItem) {
      if (item.watermark > inp.watermark) inp.watermark = item.watermark
    } else if (item instanceof IdleItem) {
      inp.idle = item.idle
    } else {
      inp.ended = true
      inp.idle = false
      inp.watermark = MAX_WATERMARK
    }
  }

  /** The minimum watermark over active inputs (MAX_WATERMARK when all ended), or IDLE. */
  recompute(inputs: readonly TaskInput[]): number {
    let min = MAX_WATERMARK
    let active = 0
    let idle = 0
    for (let k = 0; k < inputs.length; k++) {
      const i = inputs[k]
      if (i.ended) continue
      if (i.idle) {
        idle++
        continue
      }
      active++
      if (i.watermark < min) min = i.watermark
    }
    return active === 0 && idle > 0 ? IDLE : min
  }

  /** Records the idleness told downstream; true when it changed (and must be sent). */
  setIdle(idle: boolean): boolean {
    if (idle === this.idleDownstream) return false
    this.idleDownstream = idle
    return true
  }
}
