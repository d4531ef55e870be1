/**
 * Connector URIs, accepted wherever the CLI takes a file path:
 * `kafka://HOST:PORT/TOPIC`, `nats://HOST:PORT/STREAM`, `redis://HOST:PORT/KEY`,
 * `postgres://USER@HOST:PORT/DB?table=NAME`, with options as query parameters
 * (`?partitions=8&group=billing&bounded=true&start=earliest`). Each connector reads its own
 * parameters through a ConnectorUri; a parameter no one read is an error at build time
 * (`done()`), so a typo never passes silently.
 */
import { SluiceError } from '../errors.ts'

/** A URI has a scheme and "://": anything else where a path is accepted is a file. */
export function isConnectorUri(text: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
}

/** The URI with its password replaced by "***", for messages, logs and metrics. */
export function redactUri(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/?#@]*):[^@/?#]*@/i, '$1:***@')
}

/** One server of a connector URI. */
export interface UriHost {
  readonly host: string
  readonly port: number
}

export class ConnectorUri {
  readonly scheme: string
  /** The first (or only) server's host. */
  readonly host: string
  readonly port: number
  /**
   * Every server the URI names: `kafka://h1:9092,h2:9092/topic` lists two (only where the
   * connector allows several, `multipleHosts`); otherwise just `{ host, port }`.
   */
  readonly hosts: readonly UriHost[]
  /** Decoded user name; null when absent. */
  readonly user: string | null
  /** Decoded password; null when absent. Never print it: use `text`. */
  readonly password: string | null
  /** The path without its leading "/", decoded (a topic, stream, key or database name). */
  readonly name: string
  /** The URI as given, with any password replaced by "***". */
  readonly text: string
  private readonly params = new Map<string, string>()
  private readonly read = new Set<string>()

  /**
   * Parses `text` for a connector of `scheme` whose default port is `defaultPort`. Fails with
   * CONNECTOR_URI_INVALID naming what is wrong. With `multipleHosts` the authority may list
   * several servers separated by commas (`h1:9092,h2:9092`), as Kafka bootstrap lists do.
   */
  constructor(text: string, scheme: string, defaultPort: number, options: { readonly multipleHosts?: boolean } = {}) {
    this.text = redactUri(text)
    // WHATWG URLs take one host: a comma list is split off here and the first host parsed with the rest.
    const extra: UriHost[] = []
    const m = /^([a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?)([^/?#]*)(.*)$/is.exec(text)
    if (m !== null && m[2].includes(',')) {
      if (options.multipleHosts !== true) throw invalid(this.text, `${scheme}:// takes one host:port`)
      const [first, ...rest] = m[2].split(',')
      for (const h of rest) extra.push(parseHost(this.text, h, defaultPort))
      text = m[1] + first + m[3]
    }
    let u: URL
    try {
      u = new URL(text)
    } catch {
      throw invalid(this.text, 'it is not a URI')
    }
    this.scheme = u.protocol.slice(0, -1)
    if (this.scheme !== scheme && !(scheme === 'postgres' && this.scheme === 'postgresql')) throw invalid(this.text, `expected scheme ${scheme}://, got ${this.scheme}://`)
    if (u.hostname === '') throw invalid(this.text, 'it names no host')
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
    this.port = u.port === '' ? defaultPort : Number(u.port)
    this.hosts = [{ host: this.host, port: this.port }, ...extra]
    this.user = u.username === '' ? null : decodeURIComponent(u.username)
    this.password = u.password === '' ? null : decodeURIComponent(u.password)
    this.name = decodeURIComponent(u.pathname.replace(/^\//, ''))
    if (u.hash !== '') throw invalid(this.text, 'a URI here has no #fragment')
    for (const [k, v] of u.searchParams) {
      if (this.params.has(k)) throw invalid(this.text, `parameter "${k}" is given twice`)
      this.params.set(k, v)
    }
  }

  /** The path must name something (a topic, stream, key, database): fails when it is empty. */
  requireName(what: string): string {
    if (this.name === '' || this.name.includes('/')) throw invalid(this.text, `the path must be the ${what}, e.g. ${this.scheme}://${this.host}:${this.port}/NAME`)
    return this.name
  }

  string(key: string): string | undefined {
    this.read.add(key)
    const v = this.params.get(key)
    if (v === '') throw invalid(this.text, `parameter "${key}" is empty`)
    return v
  }

  /** A whole number in [min, max]. */
  int(key: string, min: number, max: number): number | undefined {
    const v = this.string(key)
    if (v === undefined) return undefined
    const n = Number(v)
    if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) throw invalid(this.text, `parameter "${key}" must be a whole number from ${min} to ${max}, got "${v}"`)
    return n
  }

  bool(key: string): boolean | undefined {
    const v = this.string(key)
    if (v === undefined) return undefined
    if (v === 'true' || v === '1') return true
    if (v === 'false' || v === '0') return false
    throw invalid(this.text, `parameter "${key}" must be true or false, got "${v}"`)
  }

  oneOf<T extends string>(key: string, values: readonly T[]): T | undefined {
    const v = this.string(key)
    if (v === undefined) return undefined
    if (!(values as readonly string[]).includes(v)) throw invalid(this.text, `parameter "${key}" must be one of ${values.join(', ')}, got "${v}"`)
    return v as T
  }

  /** Call after reading every parameter the connector knows: fails on one it does not. */
  done(): void {
    const unknown = [...this.params.keys()].filter((k) => !this.read.has(k))
    if (unknown.length > 0) {
      const known = [...this.read].sort().join(', ')
      throw invalid(this.text, `unknown parameter${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}; ${this.scheme}:// takes ${known === '' ? 'none' : known}`)
    }
  }
}

/** One `host[:port]` of a comma list ("[::1]:9092" for IPv6). */
function parseHost(text: string, hostPort: string, defaultPort: number): UriHost {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(hostPort)
  const port = m?.[2] === undefined ? defaultPort : Number(m[2])
  if (m === null || port < 1 || port > 65535) throw invalid(text, `"${hostPort}" is not a host:port`)
  const host = m[1].startsWith('[') ? m[1].slice(1, -1) : m[1]
  return { host, port }
}

function invalid(text: string, why: string): SluiceError {
  return new SluiceError('CONNECTOR_URI_INVALID', `connector URI "${text}": ${why}`)
}
