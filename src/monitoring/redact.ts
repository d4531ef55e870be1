/**
 * Masks the password of every URI in a text ("kafka://app:s3cret@host" → "kafka://app:***@host").
 * Connectors already redact their messages (ConnectorUri.text); monitoring masks again whatever a
 * connector reports (a last error, a position) before showing it, since a client library's error
 * may quote the URI it was given.
 *
 * @example
 * redactCredentials('connect failed: redis://u:pw@127.0.0.1:6379') // 'connect failed: redis://u:***@127.0.0.1:6379'
 */
export function redactCredentials(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):[^\s@/?#]*@/gi, '$1:***@')
}
