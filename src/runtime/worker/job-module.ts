/** Loading a job's Pipeline from its module, the same way in the main thread and in workers. */
import { SluiceError } from '../../errors.ts'
import type { JobModuleRef } from './protocol.ts'
import { importUserModule } from './ts-loader.ts'

/** The part of a Pipeline the runtime needs; avoids importing the API layer from here. */
export interface PipelineLike {
  readonly name: string
  run: unknown
  explain: unknown
}

function isPipeline(v: unknown): v is PipelineLike {
  return typeof v === 'object' && v !== null && typeof (v as PipelineLike).run === 'function' && typeof (v as PipelineLike).explain === 'function'
}

/**
 * Imports `ref.url` and returns the Pipeline its export holds or its export function returns. A
 * TypeScript module is loaded through tsx, registered in this thread on first need (ts-loader.ts).
 */
export async function loadPipeline(ref: JobModuleRef): Promise<PipelineLike> {
  const mod = await importUserModule(ref.url)
  const names = ref.exportName !== undefined ? [ref.exportName] : ['default', 'pipeline']
  for (const name of names) {
    let v = mod[name]
    if (typeof v === 'function' && !isPipeline(v)) v = await (v as (...a: unknown[]) => unknown)(...(ref.args ?? []))
    if (isPipeline(v)) return v
  }
  throw new SluiceError('JOB_MODULE_INVALID', `${ref.url} exports no Pipeline under ${names.join(' or ')} (exports: ${Object.keys(mod).join(', ') || 'none'})`)
}
