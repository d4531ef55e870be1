/** The job file `sluice run` is given, checked before the engine loads (a usage error answers fast). */
import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { SluiceError } from '../errors.ts'

/** The job file's absolute path, or CLI_USAGE when there is no such file. */
export async function jobFilePath(file: string): Promise<string> {
  const path = resolve(file)
  try {
    await access(path)
  } catch {
    throw new SluiceError('CLI_USAGE', `job file not found: ${path}`)
  }
  return path
}
