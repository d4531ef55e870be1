// Sessions of page views per user, from a CSV file: views closer than 30 minutes apart are one
// session. Prints one JSON line per session. Run from the repository root:
//   sluice run examples/sessionize/job.ts
import { Pipeline, boundedOutOfOrderness, session, type AggregateFunction } from 'sluice'
import { fileSource, stdoutSink } from 'sluice/connectors'

interface View { user: string; url: string; ts: number }
interface Visit { views: number; pages: string[] }

export const SESSION_GAP_MS = 30 * 60_000

// Session windows merge, so the aggregate needs merge() as well as create/add/result.
const visit: AggregateFunction<View, Visit, Visit> = {
  create: () => ({ views: 0, pages: [] }),
  add: (acc, v) => ({ views: acc.views + 1, pages: acc.pages.includes(v.url) ? acc.pages : [...acc.pages, v.url] }),
  result: (acc) => acc,
  merge: (a, b) => ({ views: a.views + b.views, pages: [...a.pages, ...b.pages.filter((p) => !a.pages.includes(p))] }),
}

export const pipeline = new Pipeline('sessionize')
pipeline
  // The header names the columns; CSV values are strings unless a column's type is declared.
  .source('views', fileSource<View>('examples/sessionize/views.csv', { csv: { types: { ts: 'number' } } }), {
    watermarks: boundedOutOfOrderness({ timestamp: (v: View) => v.ts, maxOutOfOrdernessMs: 5 * 60_000 }),
  })
  .keyBy((v) => v.user)
  .window(session(SESSION_GAP_MS))
  .aggregate('sessions', visit, (user, w, s) => ({
    user,
    start: new Date(w.start).toISOString(),
    // A session window ends one gap after its last view.
    lastView: new Date(w.end - SESSION_GAP_MS).toISOString(),
    views: s.views,
    pages: s.pages.length,
  }))
  .to('print', stdoutSink())
