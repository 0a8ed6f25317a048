// A serverless-style client of a pooled URL (tests/integration/test_pgbouncer.py):
// node-postgres, through pgbouncer in transaction mode, with both of the
// protocols a Node application uses: a simple query (no parameters) and an
// extended one (Parse/Bind/Execute with an unnamed statement, which is what
// node-postgres sends for a parameterised query). Prints one JSON line.
//
//   node pooled_client.js URL
'use strict';
const { Client } = require('pg');

async function main() {
  const client = new Client({ connectionString: process.argv[2], connectionTimeoutMillis: 10000 });
  await client.connect();
  const simple = await client.query('SELECT current_database() AS db, current_user AS usr');
  const extended = [];
  for (let i = 0; i < 5; i++) {
    const r = await client.query('SELECT $1::int + 1 AS n, $2::text AS s', [i, 'x' + i]);
    extended.push([r.rows[0].n, r.rows[0].s]);
  }
  await client.query('BEGIN');
  await client.query('CREATE TEMP TABLE IF NOT EXISTS t (x int) ON COMMIT DROP');
  await client.query('INSERT INTO t VALUES ($1)', [7]);
  const inTx = await client.query('SELECT sum(x)::int AS s FROM t');
  await client.query('COMMIT');
  await client.end();
  console.log(JSON.stringify({ db: simple.rows[0].db, user: simple.rows[0].usr, extended,
                               in_transaction: inTx.rows[0].s }));
}

main().catch((e) => { console.error(String(e && e.message || e)); process.exit(1); });
