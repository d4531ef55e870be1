/**
 * The error policy for one bad record, shared by sources, operators, sinks and cross-thread
 * channels: count it, then fail, skip or dead-letter it. Only bad records come here, so nothing
 * in this file is on the per-record hot path.
 */
import type { DeadLetter, ErrorPolicy, Sink } from '../connectors/spi.ts'
import { SluiceError, type ErrorCode } from '../errors.ts'
import type { OperatorMetrics } from '../metrics/task-metrics.ts'

/** Characters of a record shown in error messages and in letters of records that cannot be written. */
export const PREVIEW_CHARS = 200

/**
 * Nesting deeper than this keeps a record out of a dead letter (it gets a preview instead): JSON
 * encoding and structured clone recurse, and a few thousand levels overflow the stack of the
 * thread that writes the letter. 1000 leaves room whatever that thread's stack depth is.
 */
export const MAX_LETTER_DEPTH = 1000

/** Objects visited when checking a record for a letter before it counts as too large to check. */
const MAX_LETTER_NODES = 1_000_000

/** Who takes a node's dead letters: its task (which holds them for the next checkpoint when the job takes them). */
export interface DeadLetterTarget {
  deadLetter(sink: Sink<DeadLetter>, letter: DeadLetter): void
}

/** Where one node's bad records go. */
export interface RecordPolicy {
  readonly policy: ErrorPolicy
  readonly deadLetter: Sink<DeadLetter> | undefined
  readonly letters: DeadLetterTarget
  readonly metrics: OperatorMetrics
}

/**
 * Applies `p` to one bad record: counts it in `errors`, then under 'fail' throws a SluiceError
 * with `code` and `message` (a preview of the record appended), under 'skip' counts it in
 * `skipped`, under 'dead-letter' counts it in `deadLettered` and hands `letter` to `letters`,
 * its record replaced by a preview if it could not be written (see `letterRecord`).
 *
 * @example
 * rejectRecord(policy, 'SINK_RECORD_UNWRITABLE', `sink "out" cannot write input record #7: too deep`,
 *   { operator: 'out', position: 'input record #7', reason: 'too deep', record })
 */
export function rejectRecord(p: RecordPolicy, code: ErrorCode, message: string, letter: DeadLetter, cause?: unknown): void {
  p.metrics.errors++
  if (p.policy !== 'fail' && p.metrics.firstRejected === '') p.metrics.firstRejected = `${letter.position}: ${letter.reason}`
  switch (p.policy) {
    case 'fail':
      throw new SluiceError(code, `${message}; record: ${preview(letter.record)}`, cause === undefined ? undefined : { cause })
    case 'skip':
      p.metrics.skipped++
      return
    case 'dead-letter': {
      p.metrics.deadLettered++
      const sink = p.deadLetter as Sink<DeadLetter>
      const r = letter.record
      if (r instanceof Uint8Array) {
        p.letters.deadLetter(sink, { operator: letter.operator, position: letter.position, reason: letter.reason, record: Buffer.from(r.buffer, r.byteOffset, r.byteLength).toString('base64'), recordEncoding: 'base64' })
        return
      }
      const why = unwritable(r)
      const record = why === null ? r : preview(r)
      const reason = why === null ? letter.reason : `${letter.reason} (the letter holds a preview of the record: ${why})`
      p.letters.deadLetter(sink, { operator: letter.operator, position: letter.position, reason, record })
    }
  }
}

/**
 * A short rendering of any value for messages: strings as they are, everything else JSON-like,
 * cut at `max` characters. It never throws and never recurses deeper than its output is long,
 * so records that are cyclic, nested 20 000 deep or hold a BigInt preview as well as any.
 */
export function preview(value: unknown, max = PREVIEW_CHARS): string {
  const out: string[] = []
  let length = 0
  const put = (s: string): boolean => {
    out.push(s)
    length += s.length
    return length <= max
  }
  const walk = (v: unknown): boolean => {
    switch (typeof v) {
      case 'string': return put(JSON.stringify(v.length > max ? v.slice(0, max) : v))
      case 'bigint': return put(`${v}n`)
      case 'undefined': return put('undefined')
      case 'function': return put('[function]')
      case 'symbol': return put(v.toString())
      case 'number': case 'boolean': return put(String(v))
    }
    if (v === null) return put('null')
    const toJSON = (v as { toJSON?: unknown }).toJSON
    if (typeof toJSON === 'function') {
      let j: unknown
      try {
        j = (toJSON as () => unknown).call(v)
      } catch {
        return put('[unserializable]')
      }
      if (j !== v && (typeof j !== 'object' || j === null)) return walk(j)
    }
    if (Array.isArray(v)) {
      if (!put('[')) return false
      for (let i = 0; i < v.length; i++) if ((i > 0 && !put(',')) || !walk(v[i])) return false
      return put(']')
    }
    if (!put('{')) return false
    let first = true
    for (const k in v as object) {
      if (!Object.prototype.hasOwnProperty.call(v, k)) continue
      if ((!first && !put(',')) || !put(`${JSON.stringify(k)}:`) || !walk((v as Record<string, unknown>)[k])) return false
      first = false
    }
    return put('}')
  }
  if (typeof value === 'string') return value.length > max ? `${value.slice(0, max)}…` : value
  if (value instanceof Uint8Array) {
    // Raw input that is not valid UTF-8: shown decoded, invalid bytes as U+FFFD.
    const text = Buffer.from(value.buffer, value.byteOffset, Math.min(value.byteLength, max * 4)).toString('utf8')
    return preview(text, max)
  }
  try {
    walk(value)
  } catch {
    // A getter or toJSON that throws: show what was rendered before it.
    out.push('…')
  }
  const s = out.join('')
  return s.length > max ? `${s.slice(0, max)}…` : s
}

/**
 * Why a record cannot go into a dead letter as it is (null: it can): nested deeper than
 * MAX_LETTER_DEPTH (cycles included), or not encodable as JSON (a BigInt). The walk keeps its own
 * stack, so a record nested 20 000 deep cannot overflow the thread's.
 */
export function unwritable(record: unknown): string | null {
  if (typeof record !== 'object' || record === null) return typeof record === 'bigint' ? 'a BigInt cannot be written as JSON' : null
  const stack: unknown[] = [record]
  const depths: number[] = [1]
  let visited = 0
  while (stack.length > 0) {
    const v = stack.pop() as object
    const depth = depths.pop() as number
    if (depth > MAX_LETTER_DEPTH) return `nested more than ${MAX_LETTER_DEPTH} levels deep, or cyclic`
    if (++visited > MAX_LETTER_NODES) return `more than ${MAX_LETTER_NODES} objects and arrays`
    const children = Array.isArray(v) ? v : Object.values(v)
    for (let i = 0; i < children.length; i++) {
      const c: unknown = children[i]
      if (typeof c === 'bigint') return 'a BigInt cannot be written as JSON'
      if (typeof c === 'object' && c !== null) {
        stack.push(c)
        depths.push(depth + 1)
      }
    }
  }
  return null
}
