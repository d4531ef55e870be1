/**
 * Decoding an HTTP ingest request's body into records: JSON (one record, or an array of records)
 * or NDJSON (one record a line). All or nothing: the first malformed line (or a record `parse`
 * refuses) makes the whole body malformed, with the line named, so a sender can fix and resend it
 * without wondering which part went in.
 */

export type IngestFormat = 'json' | 'ndjson'

/** What a body decoded to: its records, or why it is malformed and where. */
export type DecodedBody<T> =
  | { readonly ok: true; readonly records: T[] }
  | { readonly ok: false; readonly message: string; readonly line: number | null }

const MEDIA_TYPES: Record<string, IngestFormat> = {
  'application/json': 'json',
  'application/x-ndjson': 'ndjson',
  'application/ndjson': 'ndjson',
  'application/jsonl': 'ndjson',
  'application/x-jsonlines': 'ndjson',
}

/** The format a Content-Type header names (parameters such as charset=utf-8 ignored); null for any other. */
export function ingestFormat(contentType: string | undefined): IngestFormat | null {
  if (contentType === undefined) return null
  const base = contentType.split(';')[0].trim().toLowerCase()
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)
  if (charset !== null && charset[1].toLowerCase() !== 'utf-8' && charset[1].toLowerCase() !== 'utf8') return null
  return MEDIA_TYPES[base] ?? null
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The body as text; null when it is not valid UTF-8 (JSON text is UTF-8, RFC 8259). */
export function bodyText(body: Uint8Array): string | null {
  try {
    return utf8.decode(body)
  } catch {
    return null
  }
}

/** Decodes `text` as `format`, handing each value to `parse` (which may throw to refuse it). */
export function decodeBody<T>(text: string, format: IngestFormat, parse: ((value: unknown) => T) | undefined): DecodedBody<T> {
  return format === 'json' ? decodeJson(text, parse) : decodeNdjson(text, parse)
}

function decodeJson<T>(text: string, parse: ((value: unknown) => T) | undefined): DecodedBody<T> {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    const at = jsonErrorOffset(text)
    const { line, column } = lineAndColumn(text, at < 0 ? text.length : at)
    // Said in our words: V8's message quotes the body back, and does not always say where.
    const what = at < 0 ? reason(e) : at >= text.length ? 'the body ends in the middle of a value' : `unexpected ${JSON.stringify(text.slice(at, at + 10))}`
    return { ok: false, message: `the body is not valid JSON: ${what} at line ${line}, column ${column}`, line }
  }
  const values = Array.isArray(value) ? value : [value]
  if (parse === undefined) return { ok: true, records: values as T[] }
  const records = new Array<T>(values.length)
  for (let i = 0; i < values.length; i++) {
    try {
      records[i] = parse(values[i])
    } catch (e) {
      const which = Array.isArray(value) ? `record ${i + 1} of the array (index ${i})` : 'the record'
      return { ok: false, message: `${which} was refused by parse: ${reason(e)}`, line: null }
    }
  }
  return { ok: true, records }
}

function decodeNdjson<T>(text: string, parse: ((value: unknown) => T) | undefined): DecodedBody<T> {
  const records: T[] = []
  let start = 0
  let line = 0
  const n = text.length
  while (start < n) {
    let end = text.indexOf('\n', start)
    if (end < 0) end = n
    line++
    let stop = end
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--
    const raw = text.slice(start, stop)
    start = end + 1
    // Blank lines (a trailing newline, a separator) carry no record.
    if (raw.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch (e) {
      return { ok: false, message: `line ${line} is not valid JSON: ${reason(e)}`, line }
    }
    if (parse === undefined) {
      records.push(value as T)
      continue
    }
    try {
      records.push(parse(value))
    } catch (e) {
      return { ok: false, message: `line ${line} was refused by parse: ${reason(e)}`, line }
    }
  }
  return { ok: true, records }
}

function reason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e)
  return m.length > 200 ? `${m.slice(0, 200)}…` : m
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++
      lineStart = i + 1
    }
  }
  return { line, column: offset - lineStart + 1 }
}

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y
const LITERAL = /true|false|null/y

/**
 * Where JSON.parse gave up, which V8's message does not always say ("Unexpected token 'x'"): the
 * offset of the first character that is not valid JSON there (the length for a truncated text),
 * -1 for valid JSON. Only run on a body that failed to parse. Iterative: a body of nested
 * brackets cannot overflow the stack.
 */
export function jsonErrorOffset(text: string): number {
  const stack: boolean[] = [] // true: inside an object
  type Expect = 'value' | 'value-or-end' | 'key' | 'key-or-end' | 'colon' | 'comma-or-end' | 'done'
  let expect: Expect = 'value'
  let i = 0
  const n = text.length
  const after = (): Expect => (stack.length === 0 ? 'done' : 'comma-or-end')
  const match = (re: RegExp): boolean => {
    re.lastIndex = i
    if (!re.test(text)) return false
    i = re.lastIndex
    return true
  }
  for (;;) {
    while (i < n) {
      const c = text.charCodeAt(i)
      if (c === 32 || c === 9 || c === 10 || c === 13) i++
      else break
    }
    if (i >= n) return expect === 'done' ? -1 : n
    const c = text[i]
    switch (expect) {
      case 'done':
        return i
      case 'value':
      case 'value-or-end':
        if (c === ']' && expect === 'value-or-end') {
          stack.pop()
          i++
          expect = after()
        } else if (c === '[') {
          stack.push(false)
          i++
          expect = 'value-or-end'
        } else if (c === '{') {
          stack.push(true)
          i++
          expect = 'key-or-end'
        } else if (match(STRING) || match(NUMBER) || match(LITERAL)) {
          expect = after()
        } else {
          return i
        }
        break
      case 'key':
      case 'key-or-end':
        if (c === '}' && expect === 'key-or-end') {
          stack.pop()
          i++
          expect = after()
        } else if (match(STRING)) {
          expect = 'colon'
        } else {
          return i
        }
        break
      case 'colon':
        if (c !== ':') return i
        i++
        expect = 'value'
        break
      case 'comma-or-end': {
        const inObject = stack[stack.length - 1]
        if (c === ',') {
          i++
          expect = inObject ? 'key' : 'value'
        } else if (c === (inObject ? '}' : ']')) {
          stack.pop()
          i++
          expect = after()
        } else {
          return i
        }
        break
      }
    }
  }
}
