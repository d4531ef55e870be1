/**
 * A client opened for its first user and closed after its last: a lookup table is one object
 * that every subtask using it opens and closes, and they share one pool or connection.
 */
export class SharedClient<T> {
  private users = 0
  private starting: Promise<T> | null = null
  /** The client once started (null before, and after the last release). */
  current: T | null = null

  constructor(
    private readonly start: () => Promise<T>,
    private readonly stop: (client: T) => Promise<void> | void,
  ) {}

  /** Starts the client for the first user (the others wait for it); a failed start is tried again by the next. */
  async acquire(): Promise<T> {
    this.users++
    this.starting ??= this.start()
    try {
      this.current = await this.starting
      return this.current
    } catch (e) {
      if (--this.users === 0) this.starting = null
      throw e
    }
  }

  /** Stops the client when the last user releases it. */
  async release(): Promise<void> {
    if (this.users === 0 || --this.users > 0) return
    const starting = this.starting
    this.starting = null
    this.current = null
    const client = await starting?.catch(() => null)
    if (client !== null && client !== undefined) await this.stop(client)
  }
}
