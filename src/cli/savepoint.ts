/**
 * `sluice savepoint [url] [--dir D] [--stop]`: asks a running job's monitoring server for a
 * savepoint (POST /api/v1/jobs/:id/savepoints) and prints its path; with --stop the job then
 * stops (stop-with-savepoint). Start the changed job from it with `--from-savepoint <path>`.
 * The server writes only under the job's savepoint root (its --savepoint-dir, default
 * <checkpoint-dir>/savepoints): D is relative to that root, or an absolute path inside it.
 */
import { EXIT_OK } from './errors.ts'
import { MonitorClient, MonitorRequestError, parseServerUrl, resolveToken, type ClientFlags } from './monitor-client.ts'

export interface SavepointOptions extends ClientFlags {
  dir?: string
  stop?: boolean
}

const EXIT_FAILED = 1

export async function savepointCommand(urlArg: string | undefined, o: SavepointOptions): Promise<number> {
  const { url, token } = parseServerUrl(urlArg)
  const bearer = resolveToken(o.token, token)
  const client = new MonitorClient(url, bearer)
  let id: string
  let headers: Record<string, string>
  try {
    id = (await client.job(o.job)).id
    headers = await client.changeHeaders()
  } catch (e) {
    if (!(e instanceof MonitorRequestError)) throw e
    process.stderr.write(`sluice: ${e.message}\n`)
    return EXIT_FAILED
  }
  const target = new URL(`api/v1/jobs/${encodeURIComponent(id)}/savepoints`, url)
  if (o.dir !== undefined) target.searchParams.set('dir', o.dir)
  if (o.stop === true) target.searchParams.set('stop', 'true')
  let res: Response
  try {
    res = await fetch(target, { method: 'POST', headers })
  } catch (e) {
    process.stderr.write(`sluice: cannot reach the Sluice monitoring server at ${url}: ${(e as Error).message}\n`)
    return EXIT_FAILED
  }
  const body = (await res.json().catch(() => null)) as { path?: string; error?: { message: string } } | null
  if (!res.ok || body?.path === undefined) {
    process.stderr.write(`sluice: savepoint of job "${id}" failed: ${body?.error?.message ?? `HTTP ${res.status}`}\n`)
    return EXIT_FAILED
  }
  process.stdout.write(`${body.path}\n`)
  process.stderr.write(`savepoint of job "${id}" written${o.stop === true ? '; the job stops' : ''}; start from it with --from-savepoint ${body.path}\n`)
  return EXIT_OK
}
