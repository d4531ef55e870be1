#!/usr/bin/env node
// The CLI entry. tsx's loader lets the engine and user job files load as TypeScript with no
// build step.
import { register } from 'tsx/esm/api'
import { readAhead } from './read-ahead.js'

readAhead(process.argv.slice(2))
register()
const { main } = await import('../src/cli/main.ts')
process.exitCode = await main(process.argv.slice(2))
