/**
 * `sluice doctor`: a running job's diagnosis (GET /api/v1/jobs/:id/diagnosis) in words — each
 * finding's severity, title, evidence and recommendation — with an exit status scripts can test.
 */
import type { Finding, JobSummary } from '../monitoring/types.ts'
import { painter } from './ansi.ts'
import { EXIT_FAILED, EXIT_OK } from './errors.ts'
import { MonitorClient, MonitorRequestError, colorEnabled, parseServerUrl, resolveToken, type ClientFlags } from './monitor-client.ts'
import { severityLabel, severityStyle, uptime } from './top-frame.ts'

/** Exit status when a finding is a warning or critical (the same number as a usage error). */
export const EXIT_FINDINGS = 2

export const DOCTOR_EXIT_HELP = `
Exit status:
  0  the job is healthy: only healthy or info findings
  1  the monitoring server cannot be reached, or refused the request
  2  at least one warning or critical finding (or a usage error)`

export interface DoctorOptions extends ClientFlags {
  json?: boolean
}

/** 0 when every finding is healthy or info, 2 when any is a warning or critical. */
export function doctorExitCode(findings: readonly Finding[]): number {
  return findings.some((f) => f.severity === 'warning' || f.severity === 'critical') ? EXIT_FINDINGS : EXIT_OK
}

/**
 * The report: a line naming the job, then per finding its severity and title, the evidence as
 * `label: value unit` lines ("thread busy: 840 ms/s"), and the recommendation.
 */
export function renderDiagnosis(job: JobSummary, findings: readonly Finding[], o: { color: boolean }): string[] {
  const paint = painter(o.color)
  const name = job.name === job.id ? job.id : `${job.name} (${job.id})`
  const lines = [`${paint('bold', name)}: ${job.status}, up ${uptime(job.uptimeMs)}, ${findings.length} finding${findings.length === 1 ? '' : 's'}`]
  for (const f of findings) {
    lines.push('', `${paint(severityStyle(f), severityLabel(f))}  ${f.title}`)
    for (const e of f.evidenceText ?? Object.entries(f.evidence).map(([key, v]) => ({ label: key, text: String(v) }))) lines.push(`  ${paint('dim', `${e.label}:`)} ${e.text}`)
    lines.push(`  what to do: ${f.recommendation}`)
  }
  return lines
}

export async function doctorCommand(urlArg: string | undefined, o: DoctorOptions): Promise<number> {
  const { url, token } = parseServerUrl(urlArg)
  const client = new MonitorClient(url, resolveToken(o.token, token))
  let job: JobSummary
  let findings: Finding[]
  try {
    job = await client.job(o.job)
    const body = await client.json<{ findings: Finding[] }>(`api/v1/jobs/${encodeURIComponent(job.id)}/diagnosis`)
    findings = body.findings
  } catch (e) {
    if (!(e instanceof MonitorRequestError)) throw e
    process.stderr.write(`sluice: ${e.message}\n`)
    return EXIT_FAILED
  }
  if (o.json === true) process.stdout.write(`${JSON.stringify({ findings }, null, 2)}\n`)
  else process.stdout.write(`${renderDiagnosis(job, findings, { color: colorEnabled(process.stdout) }).join('\n')}\n`)
  return doctorExitCode(findings)
}
