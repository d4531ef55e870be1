/** Debian's chromium through playwright-core, as the browser tests launch it. */
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser } from 'playwright-core'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run']

/** Where the dashboard tests leave their screenshots (test-artifacts/dashboard). */
export const ARTIFACTS = join(fileURLToPath(new URL('../..', import.meta.url)), 'test-artifacts', 'dashboard')

/** Fails at once, saying how to get it, when chromium is missing; makes the artifacts folder. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`the browser tests need chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`)
  mkdirSync(ARTIFACTS, { recursive: true })
}

/** A headless chromium without sandbox, GPU or background traffic. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS })
}
