/** How findings write names and numbers. */
export const cap = (s: string): string => s[0].toUpperCase() + s.slice(1)
/** "`a`", "`a` and `b`", "`a`, `b` and `c`". */
export function names(ids: readonly string[]): string {
  const quoted = ids.map((id) => `\`${id}\``)
  return quoted.length < 2 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} and ${quoted[quoted.length - 1]}`
}

/** Whole numbers from 100 up, one decimal from 1, two below. */
export function round(n: number): number {
  const a = Math.abs(n)
  return a >= 100 ? Math.round(n) : a >= 1 ? Math.round(n * 10) / 10 : Math.round(n * 100) / 100
}

/**
 * How to give one operator `n` subtasks, in the API's words: sources and operators take
 * `.parallelism(n)` on the stream they produce, sinks `{ parallelism: n }` in `.to()`'s options.
 */
export function parallelismOf(op: { id: string; kind: 'source' | 'operator' | 'sink' }, n: number): string {
  return op.kind === 'sink'
    ? `\`{ parallelism: ${n} }\` in the options of \`.to('${op.id}', …)\``
    : `\`.parallelism(${n})\` on the stream of \`${op.id}\``
}

/** Worker threads, as the CLI and the API name them. */
export function onWorkers(n: number): string {
  return `on worker threads (\`--workers ${n}\`; from code, \`run({ workers: ${n} })\`)`
}

/** The job's default parallelism, as the CLI and the API name it. */
export function jobParallelism(n: number): string {
  return `\`--parallelism ${n}\` (from code, \`run({ parallelism: ${n}, workers: ${n} })\`)`
}

/** A latency as a finding writes it: "8.5 ms", "840 ms", "1.2 s". */
export function latencyText(ms: number): string {
  if (ms < 10) return `${Math.round(ms * 10) / 10} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  return `${Math.round(ms / 100) / 10} s`
}
