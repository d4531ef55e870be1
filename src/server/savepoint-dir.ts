/**
 * Where the HTTP savepoint route may write: only under the job's savepoint root
 * (`checkpoints.savepointDir`, default `<checkpoint dir>/savepoints`; CLI `--savepoint-dir`). A
 * request's `dir` is relative to the root; an absolute one must lie inside it. `..` that leaves
 * the root, and a symbolic link inside it that points out, are refused. A program calling
 * `handle.savepoint(dir)` itself is trusted and not confined.
 *
 * The check walks the existing part of the path with realpath and returns that real path with the
 * missing part appended, so the directories the savepoint creates are made under the root. A link
 * swapped in between the check and the write by someone who can write inside the root is not
 * caught; such a user could write the savepoint themselves.
 */
import { lstat, mkdir, realpath } from 'node:fs/promises'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'

/** The directory to write into, or why not (a message naming the root). */
export type SavepointDir = { readonly dir: string } | { readonly error: string }

export async function savepointDirUnder(root: string, requested: string | null): Promise<SavepointDir> {
  const rootAbs = resolve(root)
  await mkdir(rootAbs, { recursive: true })
  const rootReal = await realpath(rootAbs)
  if (requested === null || requested === '') return { dir: rootReal }
  const outside = { error: `dir ${JSON.stringify(requested)} is outside the savepoint root ${rootAbs}; pass a directory relative to it (or leave dir out to use the root), or start the job with --savepoint-dir <dir>` }
  if (requested.includes('\0')) return outside
  const target = resolve(rootAbs, requested)
  // An absolute path may name the root by its real path (e.g. when the root sits under a link).
  const rest = inside(rootAbs, target) ?? inside(rootReal, target)
  if (rest === null) return outside
  let dir = rootReal
  const parts = rest === '' ? [] : rest.split(sep)
  for (let i = 0; i < parts.length; i++) {
    const next = join(dir, parts[i])
    try {
      await lstat(next)
    } catch {
      return { dir: join(dir, ...parts.slice(i)) } // the rest does not exist yet: made under the root
    }
    // A dangling link counts as leading out: where it points is not known to be inside.
    const real = await realpath(next).catch(() => null)
    if (real === null || inside(rootReal, real) === null) {
      return { error: `dir ${JSON.stringify(requested)} leads out of the savepoint root ${rootAbs} through a symbolic link; pass a directory inside it` }
    }
    dir = real
  }
  return { dir }
}

/** `path` relative to `root` when inside it ('' for the root itself), else null. */
function inside(root: string, path: string): string | null {
  const rel = relative(root, path)
  if (rel === '') return ''
  return rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? null : rel
}
