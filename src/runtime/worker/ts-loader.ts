/**
 * Importing a user's module, TypeScript or JavaScript, in any thread.
 *
 * Sluice itself runs compiled (dist/) with plain Node. A user's `.ts` job file needs a loader:
 * tsx's ESM hooks are registered on first need — in the thread that imports such a file, once —
 * and never for a `.js`/`.mjs` job. When Sluice runs from its own TypeScript sources (development,
 * tests), a loader is present already (this module itself was loaded through it) and nothing is
 * registered.
 */
import { SluiceError } from '../../errors.ts'
import { jobFileError } from './job-file-error.ts'

/** Extensions Node cannot import without a loader. */
const TYPESCRIPT = /\.(?:ts|mts|cts|tsx)$/

/** True when this thread runs Sluice's TypeScript sources, so a TypeScript loader is active. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts')

let registered: Promise<void> | null = null

/** Registers tsx's ESM hooks in this thread, once. */
function registerTsx(url: string): Promise<void> {
  registered ??= import('tsx/esm/api').then(
    (tsx) => {
      tsx.register()
    },
    (e: unknown) => {
      throw new SluiceError('JOB_MODULE_INVALID', `${url} is TypeScript, and loading it needs tsx, which cannot be loaded (${e instanceof Error ? e.message : String(e)}); install tsx (a dependency of sluice), or compile the job to JavaScript`, { cause: e })
    },
  )
  return registered
}

/** Whether importing `url` here needs tsx registered first. */
export function needsTsLoader(url: string): boolean {
  return !FROM_SOURCE && TYPESCRIPT.test(new URL(url).pathname)
}

/**
 * Imports the module at `url` (a file: URL), registering tsx first if it is TypeScript. A file
 * that does not parse, or imports what cannot be found, or throws while it runs, fails with
 * JOB_FILE_INVALID or JOB_FILE_IMPORT_FAILED naming the file, line and column (job-file-error.ts).
 *
 * @example
 * ```ts
 * const mod = await importUserModule(pathToFileURL('job.ts').href)
 * ```
 */
export async function importUserModule(url: string): Promise<Record<string, unknown>> {
  if (needsTsLoader(url)) await registerTsx(url)
  try {
    return (await import(url)) as Record<string, unknown>
  } catch (e) {
    throw jobFileError(url, e)
  }
}
