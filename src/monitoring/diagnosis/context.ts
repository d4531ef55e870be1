/** What every diagnosis rule reads (the view, the options, the window of samples) and how it walks the graph. */
import type { Finding, JobView, OperatorView, Sample } from '../types.ts'
import type { DiagnosisOptions } from './options.ts'
import type { Evidence } from '../evidence.ts'

export interface Context {
  readonly view: JobView
  readonly o: Required<DiagnosisOptions>
  /** The last `windowSamples` samples, oldest first. */
  readonly window: readonly Sample[]
  readonly longWindow: readonly Sample[]
  readonly ops: ReadonlyMap<string, OperatorView>
  /** Asynchronous operators found waiting on their service (rule 1d): the backpressure above them is theirs. */
  readonly waitingOnCalls: ReadonlySet<string>
}

/** A finding as a rule makes it: diagnose() adds the evidence in words. */
export type RuleFinding = Omit<Finding, 'evidenceText' | 'evidence'> & { evidence: Evidence }

/** A finding and how far past its threshold it is (1 = at the threshold), to order within a severity. */
export interface Scored {
  finding: RuleFinding
  score: number
  /** Operators whose time the finding accounts for (a saturated thread's chain). */
  covers?: readonly string[]
}

export type OpSample = Sample['operators'][string]

export function series(window: readonly Sample[], id: string): { t: number; m: OpSample }[] {
  return window.flatMap((s) => (s.operators[id] === undefined ? [] : [{ t: s.t, m: s.operators[id] }]))
}

export function inputs(ctx: Context, id: string): JobView['graph']['edges'] {
  return ctx.view.graph.edges.filter((e) => e.to === id)
}

export function outputs(ctx: Context, id: string): JobView['graph']['edges'] {
  return ctx.view.graph.edges.filter((e) => e.from === id)
}

export function ancestors(ctx: Context, id: string): Set<string> {
  const found = new Set<string>()
  const stack = [id]
  while (stack.length > 0) {
    for (const e of inputs(ctx, stack.pop() as string)) {
      if (!found.has(e.from)) {
        found.add(e.from)
        stack.push(e.from)
      }
    }
  }
  return found
}
