/** The reason given for a record whose timestamp function returned no event time. */
import { preview } from '../../operators/record-errors.ts'

/**
 * Why `t` is no event time, and how to make it one. A string that reads as a number is shown
 * quoted, "(a string)": it looks right in a message and is not (a CSV column read as text).
 */
export function timestampProblem(t: unknown): string {
  const shown = typeof t === 'string' ? `${JSON.stringify(preview(t, 40))} (a string)` : typeof t === 'number' ? String(t) : `${preview(t, 40)} (${t === null ? 'null' : typeof t})`
  let fix = 'make the timestamp function return epoch milliseconds as a number (see docs/GUIDE.md#event-time-and-watermarks)'
  if (typeof t === 'string' && t.trim() !== '' && Number.isFinite(Number(t))) {
    fix = `convert it in the timestamp function (Number(…)), or, reading CSV, declare the column's type (csv: { types: { <column>: 'number' } }, see docs/GUIDE.md#csv-columns)`
  } else if (typeof t === 'string' && !Number.isNaN(Date.parse(t))) {
    fix = 'convert it in the timestamp function (Date.parse(…); see docs/GUIDE.md#event-time-and-watermarks)'
  }
  return `timestamp is ${shown}, not a finite number of epoch ms: ${fix}`
}
