/**
 * DuckDB translations of the reference Nexmark SQL (nexmark/nexmark,
 * nexmark-flink/src/main/resources/queries/qN.sql), used as an independent oracle for Sluice's
 * query results.
 *
 * The oracle loads the events file into three views with the reference DDL's columns
 * (ddl_views.sql):
 *   person(id, name, emailAddress, creditCard, city, state, dateTime, extra)
 *   auction(id, itemName, description, initialBid, reserve, dateTime, expires, seller, category, extra)
 *   bid(auction, bidder, price, channel, url, dateTime, extra)
 *
 * Differences common to every query (not repeated below):
 * - Timestamps (`dateTime`, `expires`) are BIGINT epoch milliseconds, not TIMESTAMP(3). Window
 *   starts/ends and interval arithmetic are done on those integers (`INTERVAL '10' SECOND` =
 *   10000). Result timestamps are therefore epoch-ms numbers, as Sluice writes them.
 * - Windows are aligned to the epoch (offset 0), as Flink's are: the window start of t for size
 *   or slide s is `t - floorMod(t, s)`; written `t - (((t % s) + s) % s)` so that it is also
 *   right for negative t (DuckDB's % truncates toward zero, like Java's).
 * - The input is bounded: every window fires at the end (the final watermark), so a windowed
 *   query's streaming result equals this batch SQL over the whole input. There is no late data
 *   (nothing is dropped by the 4 s watermark delay of the reference DDL), and the regular joins
 *   (q3, q4, q7, q9) see all pairs over the whole input with no state TTL.
 * - Output identifiers are quoted/aliased so the column names keep their camelCase spelling.
 */

export interface OracleQuery {
  /** Normalised name, `q0` … `q11`. */
  readonly name: string
  /** Result fields, in order. Comparison uses exactly these fields. */
  readonly fields: readonly string[]
  /**
   * Fields compared with a relative tolerance (decimals / averages). All other fields, numeric
   * ones included (ids, prices, counts, epoch-ms timestamps), are compared exactly: a relative
   * tolerance of 1e-9 on an epoch-ms timestamp (~1.7e12) would accept errors of ~1.7 s.
   */
  readonly approxFields: readonly string[]
  /**
   * For an updating (changelog) result: the key whose LAST row in the engine's output is its
   * final value. Only q4 has one (`id`).
   */
  readonly lastRowPerKey?: string
  readonly sql: string
}

/** `t - floorMod(t, size)`: epoch-aligned window start of the BIGINT expression `t`. */
function windowStart(t: string, size: number): string {
  return `(${t} - (((${t} % ${size}) + ${size}) % ${size}))`
}

// q0 — pass-through. Same as the reference: SELECT auction, bidder, price, dateTime, extra FROM bid.
const q0: OracleQuery = {
  name: 'q0',
  fields: ['auction', 'bidder', 'price', 'dateTime', 'extra'],
  approxFields: [],
  sql: `
SELECT auction, bidder, price, "dateTime" AS "dateTime", extra
FROM bid`,
}

// q1 — currency conversion: price = 0.908 * price.
// Same as the reference: in DuckDB as in Flink, DECIMAL(4,3) * BIGINT is DECIMAL(23,3), so the
// product is exact with 3 decimal places (the CAST just pins the sink type DECIMAL(23,3)).
// Difference: the oracle returns it as a JS number (a double; exact for every price the
// generator makes, < 1e8 * 0.908), and the comparator allows a relative error of 1e-9 on it,
// so an engine computing `0.908 * price` in double precision also matches.
const q1: OracleQuery = {
  name: 'q1',
  fields: ['auction', 'bidder', 'price', 'dateTime', 'extra'],
  approxFields: ['price'],
  sql: `
SELECT auction, bidder, CAST(0.908 * price AS DECIMAL(23, 3)) AS price, "dateTime" AS "dateTime", extra
FROM bid`,
}

// q2 — selection: bids with MOD(auction, 123) = 0. Same as the reference (DuckDB's % equals
// Flink's MOD, sign of the dividend; ids are positive anyway).
const q2: OracleQuery = {
  name: 'q2',
  fields: ['auction', 'price'],
  approxFields: [],
  sql: `
SELECT auction, price
FROM bid
WHERE auction % 123 = 0`,
}

// q3 — local item suggestion: regular (unbounded) inner join auction ⋈ person on seller = id,
// category 10, state in OR/ID/CA → name, city, state, id (the auction's id). Same as the
// reference; as a batch join it sees every pair, whichever side arrived first.
const q3: OracleQuery = {
  name: 'q3',
  fields: ['name', 'city', 'state', 'id'],
  approxFields: [],
  sql: `
SELECT P.name AS name, P.city AS city, P.state AS state, A.id AS id
FROM auction AS A
INNER JOIN person AS P ON A.seller = P.id
WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA')`,
}

// q4 — average winning price per category: per auction, MAX(B.price) over the bids with
// B.auction = A.id and B.dateTime BETWEEN A.dateTime AND A.expires (inclusive on both ends);
// then AVG of those maxima per category → id (= category), final.
// Difference: `final` is AVG as a DOUBLE. Flink's AVG over BIGINT returns BIGINT (integer-
// truncated) and its sink declares final BIGINT; we keep the exact mean instead (decision).
// Auctions with no bid in their interval contribute nothing (inner join), so a category whose
// auctions have no valid bid has no row. The engine's output is an updating result: the
// comparator takes the LAST row it emitted per id (`lastRowPerKey`).
const q4: OracleQuery = {
  name: 'q4',
  fields: ['id', 'final'],
  approxFields: ['final'],
  lastRowPerKey: 'id',
  sql: `
SELECT Q.category AS id, CAST(AVG(Q.final) AS DOUBLE) AS final
FROM (
  SELECT MAX(B.price) AS final, A.category AS category
  FROM auction A, bid B
  WHERE A.id = B.auction AND B."dateTime" BETWEEN A."dateTime" AND A.expires
  GROUP BY A.id, A.category
) Q
GROUP BY Q.category`,
}

// q5 — hot items: HOP(size 10 s, slide 2 s) over bid; count per (auction, window); per window
// keep the auctions whose count >= the window's max count → auction, num.
// Difference: HOP is expanded by hand. Window starts are the multiples of 2000 in
// (t - 10000, t], i.e. floorMod-aligned start of t minus k*2000 for k = 0..4, so each bid is in
// exactly 5 windows [start, start + 10000), as Flink's SlidingEventTimeWindows assigns them.
// Only windows holding at least one bid exist (as in Flink). Ties: every auction with the max
// count in a window is output (num >= maxn).
const q5: OracleQuery = {
  name: 'q5',
  fields: ['auction', 'num'],
  approxFields: [],
  sql: `
WITH hop AS (
  SELECT B.auction AS auction, ${windowStart('B."dateTime"', 2000)} - o.k * 2000 AS window_start
  FROM bid B CROSS JOIN (VALUES (0), (1), (2), (3), (4)) AS o(k)
),
AuctionBids AS (
  SELECT auction, count(*) AS num, window_start AS starttime, window_start + 10000 AS endtime
  FROM hop
  GROUP BY auction, window_start
),
MaxBids AS (
  SELECT max(num) AS maxn, starttime, endtime
  FROM AuctionBids
  GROUP BY starttime, endtime
)
SELECT AuctionBids.auction AS auction, AuctionBids.num AS num
FROM AuctionBids
JOIN MaxBids
  ON AuctionBids.starttime = MaxBids.starttime
 AND AuctionBids.endtime = MaxBids.endtime
 AND AuctionBids.num >= MaxBids.maxn`,
}

// q7 — highest bid: TUMBLE 10 s; per window maxprice = MAX(price) with window_end e; result =
// every bid B with B.price = maxprice AND B.dateTime BETWEEN e - 10000 AND e.
// Same as the reference, including its INCLUSIVE upper bound: a bid at exactly e (which belongs
// to the NEXT window) whose price equals this window's max also matches, so one bid can be
// output twice (once per window it matches). Difference: the field order follows Sluice's
// result list (auction, price, bidder, dateTime, extra); the reference sink orders them
// auction, bidder, price, dateTime, extra (comparison is by name, so order is immaterial).
const q7: OracleQuery = {
  name: 'q7',
  fields: ['auction', 'price', 'bidder', 'dateTime', 'extra'],
  approxFields: [],
  sql: `
WITH B1 AS (
  SELECT MAX(price) AS maxprice, window_start + 10000 AS "dateTime"
  FROM (SELECT price, ${windowStart('"dateTime"', 10000)} AS window_start FROM bid) W
  GROUP BY window_start
)
SELECT B.auction AS auction, B.price AS price, B.bidder AS bidder, B."dateTime" AS "dateTime", B.extra AS extra
FROM bid B
JOIN B1 ON B.price = B1.maxprice
WHERE B."dateTime" BETWEEN B1."dateTime" - 10000 AND B1."dateTime"`,
}

// q8 — monitor new users: persons grouped by (id, name, TUMBLE 10 s window) joined with auctions
// grouped by (seller, same window) on id = seller and the same window → id, name, stime (window
// start, epoch ms). Same as the reference: the GROUP BYs make a seller with several auctions in
// one window give a single row.
const q8: OracleQuery = {
  name: 'q8',
  fields: ['id', 'name', 'stime'],
  approxFields: [],
  sql: `
WITH P AS (
  SELECT id, name, window_start AS starttime, window_start + 10000 AS endtime
  FROM (SELECT id, name, ${windowStart('"dateTime"', 10000)} AS window_start FROM person) PW
  GROUP BY id, name, window_start
),
A AS (
  SELECT seller, window_start AS starttime, window_start + 10000 AS endtime
  FROM (SELECT seller, ${windowStart('"dateTime"', 10000)} AS window_start FROM auction) AW
  GROUP BY seller, window_start
)
SELECT P.id AS id, P.name AS name, P.starttime AS stime
FROM P
JOIN A ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime`,
}

// q9 — winning bid per auction: among the bids with B.auction = A.id and B.dateTime BETWEEN
// A.dateTime AND A.expires, ROW_NUMBER() OVER (PARTITION BY A.id ORDER BY B.price DESC,
// B.dateTime ASC) = 1.
// Difference: two extra ORDER BY keys, B.bidder ASC then B.extra ASC, make the winner
// deterministic on a full (price, dateTime) tie (the reference leaves it arbitrary). Two bids
// still tied then have identical output columns. (B.extra is ordered by DuckDB's binary
// collation = UTF-8 byte order; it equals JS string order for ASCII extras.) The reference
// names the time columns customTime/bid_customTime in some versions; we use dateTime and
// bid_dateTime. Auctions with no bid in their interval produce no row.
const q9: OracleQuery = {
  name: 'q9',
  fields: [
    'id', 'itemName', 'description', 'initialBid', 'reserve', 'dateTime', 'expires', 'seller',
    'category', 'extra', 'auction', 'bidder', 'price', 'bid_dateTime', 'bid_extra',
  ],
  approxFields: [],
  sql: `
SELECT id, "itemName", description, "initialBid", reserve, "dateTime", expires, seller, category, extra,
       auction, bidder, price, "bid_dateTime", bid_extra
FROM (
  SELECT A.id AS id, A."itemName" AS "itemName", A.description AS description,
         A."initialBid" AS "initialBid", A.reserve AS reserve, A."dateTime" AS "dateTime",
         A.expires AS expires, A.seller AS seller, A.category AS category, A.extra AS extra,
         B.auction AS auction, B.bidder AS bidder, B.price AS price,
         B."dateTime" AS "bid_dateTime", B.extra AS bid_extra,
         ROW_NUMBER() OVER (
           PARTITION BY A.id
           ORDER BY B.price DESC, B."dateTime" ASC, B.bidder ASC, B.extra ASC
         ) AS rownum
  FROM auction A, bid B
  WHERE A.id = B.auction AND B."dateTime" BETWEEN A."dateTime" AND A.expires
) W
WHERE rownum <= 1`,
}

// q11 — user sessions: SESSION(dateTime, 10 s) per bidder → bidder, bid_count, starttime (first
// bid time), endtime (last bid time + 10000).
// Difference: SESSION is expanded by hand (LAG + running sum over each bidder's bids sorted by
// dateTime). As in Flink, whose TimeWindow.intersects is `start <= other.end && end >=
// other.start`, session windows [t, t+10000) and [t+10000, t+20000) touch and MERGE, so a new
// session starts only when dateTime - previous dateTime > 10000 (a gap of exactly 10000 stays in
// one session; 10001 splits). Equal timestamps (gap 0) are always in one session.
const q11: OracleQuery = {
  name: 'q11',
  fields: ['bidder', 'bid_count', 'starttime', 'endtime'],
  approxFields: [],
  sql: `
WITH ordered AS (
  SELECT bidder, "dateTime",
         LAG("dateTime") OVER (PARTITION BY bidder ORDER BY "dateTime") AS prev
  FROM bid
),
flagged AS (
  SELECT bidder, "dateTime",
         CASE WHEN prev IS NULL OR "dateTime" - prev > 10000 THEN 1 ELSE 0 END AS new_session
  FROM ordered
),
sessions AS (
  SELECT bidder, "dateTime",
         SUM(new_session) OVER (
           PARTITION BY bidder ORDER BY "dateTime"
           ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
         ) AS session_id
  FROM flagged
)
SELECT bidder, count(*) AS bid_count, MIN("dateTime") AS starttime, MAX("dateTime") + 10000 AS endtime
FROM sessions
GROUP BY bidder, session_id`,
}

export const ORACLE_QUERIES: Readonly<Record<string, OracleQuery>> = Object.freeze({
  q0, q1, q2, q3, q4, q5, q7, q8, q9, q11,
})

/** The queries the oracle supports, in order. */
export const ORACLE_QUERY_NAMES: readonly string[] = Object.freeze(Object.keys(ORACLE_QUERIES))

/** `'q4'`, `'Q4'` and `'4'` all name q4. */
export function normalizeQueryName(query: string): string {
  const q = query.trim().toLowerCase()
  return q.startsWith('q') ? q : `q${q}`
}

/** The oracle definition of `query`; throws for a query the oracle does not support. */
export function getOracleQuery(query: string): OracleQuery {
  const name = normalizeQueryName(query)
  const def = Object.prototype.hasOwnProperty.call(ORACLE_QUERIES, name) ? ORACLE_QUERIES[name] : undefined
  if (def === undefined) {
    throw new Error(
      `oracle: unsupported query '${query}' (supported: ${ORACLE_QUERY_NAMES.join(', ')})`,
    )
  }
  return def
}
