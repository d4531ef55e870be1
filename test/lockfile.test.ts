/**
 * `npm ci` works on the committed package-lock.json on every platform (issue 13 item 5): npm ci
 * refuses a lockfile that lacks an optional platform package a dependency lists (npm install on
 * one machine may leave out the other platforms' builds), and the lockfile names no registry.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

interface LockPackage {
  version?: string
  resolved?: string
  optional?: boolean
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  devDependencies?: Record<string, string>
}
const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as { lockfileVersion: number; packages: Record<string, LockPackage> }
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> }

/** Where npm resolves `name` required from the package at `from`: the nearest node_modules up the tree. */
function resolveFrom(from: string, name: string): string | undefined {
  let at = from
  for (;;) {
    const candidate = `${at === '' ? '' : `${at}/`}node_modules/${name}`
    if (candidate in lock.packages) return candidate
    if (at === '') return undefined
    const i = at.lastIndexOf('/node_modules/')
    at = i < 0 ? '' : at.slice(0, i)
  }
}

describe('package-lock.json', () => {
  it('records every optional dependency of every package (the platform builds npm ci needs)', () => {
    expect(lock.lockfileVersion).toBe(3)
    const missing: string[] = []
    for (const [path, p] of Object.entries(lock.packages)) {
      for (const name of Object.keys(p.optionalDependencies ?? {})) if (resolveFrom(path, name) === undefined) missing.push(`${path || '(root)'} -> ${name}`)
    }
    expect(missing).toEqual([])
  })

  it('matches package.json\'s dependencies', () => {
    const root = lock.packages['']
    expect(root.dependencies).toEqual(pkg.dependencies)
    expect(root.devDependencies).toEqual(pkg.devDependencies)
    for (const name of [...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]) expect(lock.packages[`node_modules/${name}`], name).toBeDefined()
  })

  it('records no registry address (no resolved URLs)', () => {
    expect(Object.entries(lock.packages).filter(([, p]) => p.resolved !== undefined).map(([path]) => path)).toEqual([])
  })
})
