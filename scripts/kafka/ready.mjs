// Exits 0 when the Kafka broker at argv[2] (host:port) answers a metadata request, 1 otherwise.
// Used by scripts/services.sh to wait for the test broker.
import { Admin } from '@platformatic/kafka'

const admin = new Admin({ clientId: 'sluice-services', bootstrapBrokers: [process.argv[2] ?? '127.0.0.1:9092'], connectTimeout: 2000, timeout: 3000, retries: 0 })
try {
  await admin.listTopics()
  process.exitCode = 0
} catch {
  process.exitCode = 1
} finally {
  await admin.close().catch(() => {})
}
