// Orders enriched with their customer: a keyed join of two files on the customer id. Each order
// whose customer is known prints one JSON line; an order of an unknown customer prints nothing
// (an inner join). Run from the repository root:
//   sluice run examples/enrichment/job.ts
import { Pipeline } from 'sluice'
import { fileSource, stdoutSink } from 'sluice/connectors'

interface Order { orderId: string; customerId: string; amount: number }
interface Customer { id: string; name: string; tier: string; country: string }

export const pipeline = new Pipeline('enrichment')
const orders = pipeline.source('orders', fileSource<Order>('examples/enrichment/orders.csv', { csv: { types: { amount: 'number' } } }))
const customers = pipeline.source('customers', fileSource<Customer>('examples/enrichment/customers.jsonl'))

orders
  .keyBy((o) => o.customerId)
  // Unbounded join: either side may arrive first; both are kept in state (a ttlMs would bound it).
  .join(customers.keyBy((c) => c.id))
  .apply('enrich', (o, c) => ({ orderId: o.orderId, amount: o.amount, customer: c.name, tier: c.tier, country: c.country }))
  .to('print', stdoutSink())
