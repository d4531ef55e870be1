/**
 * Line encoding shared by the stdout and file sinks. A batch is encoded in one loop; only when
 * that throws is it encoded again record by record, to find the records that cannot be encoded
 * (nested too deep for the stack, cyclic, holding a BigInt) and report each one, so one bad
 * record costs its own line, not the batch, and never reads as an I/O failure.
 */
import { SluiceError } from '../errors.ts'
import type { SinkContext } from './spi.ts'

/** Told about a record that cannot be encoded; throws to stop the write (policy 'fail'). */
export type RejectRecord = (record: unknown, reason: string) => void

/**
 * The writer's way to report an unencodable record: the runtime's `ctx.reportBadRecord` (the
 * sink's onError policy), or, for a context made outside the runtime, a SINK_RECORD_UNWRITABLE
 * error.
 */
export function rejecterFor(ctx: SinkContext, destination: string): RejectRecord {
  if (ctx.reportBadRecord !== undefined) return (record, reason) => ctx.reportBadRecord?.(record, reason)
  return (_record, reason) => {
    throw new SluiceError('SINK_RECORD_UNWRITABLE', `sink "${ctx.sinkId}" cannot write a record to ${destination}: ${reason}`)
  }
}

const failOnBadRecord: RejectRecord = (_record, reason) => {
  throw new SluiceError('SINK_RECORD_UNWRITABLE', `cannot encode a record as a line: ${reason}`)
}

/**
 * One JSON document per line; values JSON cannot represent (undefined, functions) become null.
 * Records that cannot be encoded go to `reject` and are left out.
 */
export function encodeJsonLines(batch: readonly unknown[], reject: RejectRecord = failOnBadRecord): string {
  let text = ''
  try {
    for (let i = 0; i < batch.length; i++) text += `${JSON.stringify(batch[i]) ?? 'null'}\n`
  } catch {
    return encodeEach(batch, jsonLine, reject)
  }
  return text
}

/** Strings as they are, objects as JSON, anything else through String(). Unencodable records go to `reject`. */
export function encodeTextLines(batch: readonly unknown[], reject: RejectRecord = failOnBadRecord): string {
  let text = ''
  try {
    for (let i = 0; i < batch.length; i++) text += `${textLine(batch[i])}\n`
  } catch {
    return encodeEach(batch, textLine, reject)
  }
  return text
}

function jsonLine(r: unknown): string {
  return JSON.stringify(r) ?? 'null'
}

function textLine(r: unknown): string {
  return typeof r === 'string' ? r : typeof r === 'object' && r !== null ? JSON.stringify(r) : String(r)
}

/** The slow path after a batch failed: each record alone, the bad ones reported. */
function encodeEach(batch: readonly unknown[], encode: (r: unknown) => string, reject: RejectRecord): string {
  let text = ''
  for (let i = 0; i < batch.length; i++) {
    let line: string
    try {
      line = encode(batch[i])
    } catch (e) {
      reject(batch[i], whyUnencodable(e))
      continue
    }
    // Outside the try: a batch whose lines together exceed a string's maximum length is not
    // the fault of the record that tips it over.
    text += `${line}\n`
  }
  return text
}

/** "it is nested too deeply to encode (Maximum call stack size exceeded)", and the like. */
export function whyUnencodable(e: unknown): string {
  const message = e instanceof Error ? e.message.split('\n')[0] : String(e)
  if (e instanceof RangeError && /call stack/i.test(message)) return `it is nested too deeply to encode (${message})`
  if (e instanceof RangeError && /string length/i.test(message)) return `its encoding is longer than the longest string JavaScript can hold (${message})`
  if (/circular/i.test(message)) return `it is cyclic (${message})`
  return `it cannot be encoded as JSON (${message})`
}
