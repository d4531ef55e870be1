/**
 * Plain ANSI for terminal output that must work over SSH and in any terminal: SGR colours, and
 * fitting text to a width while skipping escape sequences. One column per code point (the CLI
 * prints no wide characters of its own; an operator id with some may be cut a column late).
 */

export const ESC = '\x1b['
export const CLEAR_SCREEN = `${ESC}2J`
export const CURSOR_HOME = `${ESC}H`
export const CLEAR_LINE_END = `${ESC}K`
export const CLEAR_SCREEN_END = `${ESC}J`
export const HIDE_CURSOR = `${ESC}?25l`
export const SHOW_CURSOR = `${ESC}?25h`

export type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'blue' | 'magenta' | 'cyan'

const SGR: Record<Style, string> = { bold: '1', dim: '2', red: '31', green: '32', yellow: '33', blue: '34', magenta: '35', cyan: '36' }
const ANSI_PATTERN = /\x1b\[[0-9;?]*[A-Za-z]/g
const ANSI_AT = /\x1b\[[0-9;?]*[A-Za-z]/y

/** A painter: `paint('red', s)` colours `s` when enabled, returns it unchanged otherwise. */
export type Paint = (style: Style, text: string) => string

export function painter(enabled: boolean): Paint {
  return enabled ? (style, text) => (text === '' ? text : `${ESC}${SGR[style]}m${text}${ESC}0m`) : (_style, text) => text
}

export function stripAnsi(s: string): string {
  return s.replace(ANSI_PATTERN, '')
}

export function visibleLength(s: string): number {
  return [...stripAnsi(s)].length
}

/** Cuts `s` to `width` visible columns, ending in "…" when cut; escape sequences are kept and reset. */
export function fitWidth(s: string, width: number): string {
  if (visibleLength(s) <= width) return s
  if (width <= 0) return ''
  let out = ''
  let shown = 0
  let styled = false
  for (let i = 0; i < s.length;) {
    if (s[i] === '\x1b') {
      ANSI_AT.lastIndex = i
      const m = ANSI_AT.exec(s)
      if (m !== null) {
        out += m[0]
        styled = true
        i += m[0].length
        continue
      }
    }
    const ch = String.fromCodePoint(s.codePointAt(i) as number)
    if (shown === width - 1) break
    out += ch
    shown++
    i += ch.length
  }
  return `${out}…${styled ? `${ESC}0m` : ''}`
}

/** Plain text cut to `width` columns with "…", or padded to it. */
export function cell(text: string, width: number, align: 'left' | 'right'): string {
  const chars = [...text]
  const t = chars.length > width ? (width <= 1 ? chars.slice(0, width).join('') : `${chars.slice(0, width - 1).join('')}…`) : text
  const pad = ' '.repeat(Math.max(0, width - [...t].length))
  return align === 'left' ? t + pad : pad + t
}

/** Word-wraps plain text to `width` columns; the first line starts with `first`, the rest with `rest`. */
export function wrap(text: string, width: number, first: string, rest: string): string[] {
  const lines: string[] = []
  let line = first
  let empty = true
  for (const word of text.split(/\s+/).filter((w) => w.length > 0)) {
    const candidate = empty ? line + word : `${line} ${word}`
    if (!empty && visibleLength(candidate) > width) {
      lines.push(line)
      line = rest + word
    } else {
      line = candidate
    }
    empty = false
  }
  lines.push(line)
  return lines.map((l) => fitWidth(l, width))
}
