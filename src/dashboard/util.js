// Small helpers: DOM building without HTML strings, number and time formatting.

const SVG_NS = 'http://www.w3.org/2000/svg'

/**
 * Builds an HTML element. `attrs` keys: `class`, `text` (textContent), `testid` (data-testid),
 * `on<event>` (listeners), `dataset` and `style` (objects; no inline style strings, so a strict
 * CSP holds); others become attributes (null/undefined/false skip).
 * Children: nodes or strings (as text nodes). Nothing is ever parsed as HTML.
 */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children)
}

/** Same as h() for SVG elements. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children)
}

function build(el, attrs, children) {
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue
      if (k === 'text') el.textContent = String(v)
      else if (k === 'testid') el.setAttribute('data-testid', String(v))
      else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv)
      else if (k === 'style' && typeof v === 'object') for (const [sk, sv] of Object.entries(v)) el.style.setProperty(sk, String(sv))
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue
    if (Array.isArray(c)) append(el, c)
    else el.append(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c)
  }
}

/** Replaces all children of `el`. */
export function replaceChildren(el, ...children) {
  el.replaceChildren()
  append(el, children)
}

/** Sets textContent only when it changed (avoids layout churn). */
export function setText(el, text) {
  const t = String(text)
  if (el.textContent !== t) el.textContent = t
}

/**
 * Text with `backtick` spans rendered as <code> (findings use them for operator ids). Returns
 * nodes built from text, never HTML.
 */
export function richText(text) {
  const out = []
  const parts = String(text ?? '').split('`')
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '') continue
    out.push(i % 2 === 1 ? h('code', { text: parts[i] }) : document.createTextNode(parts[i]))
  }
  return out
}

export const DASH = '—'

/** 1234 → "1.23k", 1.5e6 → "1.50M"; null → "—". */
export function fmtNum(v, digits = 3) {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH
  const a = Math.abs(v)
  if (a >= 1e9) return trim((v / 1e9).toPrecision(digits)) + 'G'
  if (a >= 1e6) return trim((v / 1e6).toPrecision(digits)) + 'M'
  if (a >= 1e4) return trim((v / 1e3).toPrecision(digits)) + 'k'
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v))
  if (a >= 1) return trim(v.toFixed(1))
  if (a === 0) return '0'
  return trim(v.toPrecision(2))
}

function trim(s) {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s
}

/** Records per second: "12.3k/s". */
export function fmtRate(v) {
  return v === null || v === undefined ? DASH : `${fmtNum(v)}/s`
}

/** Milliseconds: "850 ms", "2.4 s", "3.1 min". */
export function fmtMs(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH
  const a = Math.abs(v)
  if (a < 1) return `${trim(v.toFixed(2))} ms`
  if (a < 1000) return `${trim(v < 10 ? v.toFixed(1) : v.toFixed(0))} ms`
  if (a < 60_000) return `${trim((v / 1000).toFixed(1))} s`
  if (a < 3_600_000) return `${trim((v / 60_000).toFixed(1))} min`
  if (a < 86_400_000) return `${trim((v / 3_600_000).toFixed(1))} h`
  return `${trim((v / 86_400_000).toFixed(1))} d`
}

/** Uptime: "3s", "4m 05s", "2h 03m 04s", "3d 02h". */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return DASH
  let sec = Math.max(0, Math.floor(ms / 1000))
  const d = Math.floor(sec / 86400); sec -= d * 86400
  const hr = Math.floor(sec / 3600); sec -= hr * 3600
  const m = Math.floor(sec / 60); sec -= m * 60
  const p2 = (n) => String(n).padStart(2, '0')
  if (d > 0) return `${d}d ${p2(hr)}h`
  if (hr > 0) return `${hr}h ${p2(m)}m ${p2(sec)}s`
  if (m > 0) return `${m}m ${p2(sec)}s`
  return `${sec}s`
}

/** Bytes: "1.2 MiB". */
export function fmtBytes(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let x = v
  while (Math.abs(x) >= 1024 && i < units.length - 1) { x /= 1024; i++ }
  return `${i === 0 ? x : trim(x.toFixed(1))} ${units[i]}`
}

/** Milliseconds per second, rounded: "420 ms/s". */
export const msps = (v) => (v === null || v === undefined ? DASH : `${Math.round(v)} ms/s`)

/** 0..1 → "42%". */
export function fmtPct(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return DASH
  return `${Math.round(v * 100)}%`
}

/** Epoch ms → local "HH:MM:SS". */
export function fmtClock(t) {
  if (t === null || t === undefined) return DASH
  const d = new Date(t)
  const p2 = (n) => String(n).padStart(2, '0')
  return `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`
}

/** Epoch ms → "HH:MM:SS" today, else "YYYY-MM-DD HH:MM:SS" (event time can be far from now). */
export function fmtInstant(t) {
  if (t === null || t === undefined) return DASH
  if (Math.abs(Date.now() - t) < 12 * 3_600_000) return fmtClock(t)
  const d = new Date(t)
  const p2 = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${fmtClock(t)}`
}

export function clamp(v, lo, hi) {
  return v < lo ? lo : v > hi ? hi : v
}
