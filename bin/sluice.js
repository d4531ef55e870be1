#!/usr/bin/env node
// The CLI entry. It runs the compiled CLI (dist/, built by `npm run build`; `npm install` of a
// clone builds it) with plain Node: tsx is loaded only to import a user's .ts job file
// (src/runtime/worker/ts-loader.ts), never for Sluice's own modules.
// Development: with the `sluice-source` export condition (node --conditions=sluice-source, or
// NODE_OPTIONS="--conditions=sluice-source", which the test suite sets) `#cli` resolves to
// src/cli/main.ts, and the engine runs from its TypeScript sources through tsx — no build needed.
import { readAhead } from './read-ahead.js'

readAhead(process.argv.slice(2))
const cli = import.meta.resolve('#cli')
if (cli.endsWith('.ts')) (await import('tsx/esm/api')).register()
let main
try {
  ;({ main } = await import(cli))
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || e.url !== cli) throw e
  process.stderr.write(`sluice: ${new URL(cli).pathname} is missing: Sluice has not been built\n  what to do: run \`npm run build\` in ${new URL('..', import.meta.url).pathname} (npm install does it), or run the sources: node --conditions=sluice-source bin/sluice.js\n`)
  process.exit(1)
}
process.exitCode = await main(process.argv.slice(2))
