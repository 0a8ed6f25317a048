// drizzle-migrate.mjs: drizzle-orm's own migrator, run as an app's CI runs
// it (drizzle-kit migrate calls the same migrate() of drizzle-orm), for
// tests/integration/test_tool_drizzle.py.
//
//   DATABASE_URL=postgresql://... node drizzle-migrate.mjs FOLDER
//   DATABASE_URL=mysql://...      node drizzle-migrate.mjs FOLDER
//
// Migrates the database at DATABASE_URL with the drizzle-kit folder FOLDER
// (its meta/_journal.json and <tag>.sql files) through drizzle-orm's
// node-postgres or mysql2 driver, with drizzle's logger on: each query the
// migrator sends is printed on a line of its own starting "Query: ", so a
// test can see what it ran. Exit status 0 when migrate() resolved, 1 with
// the error on stderr when it threw.
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2';
import { migrate as migrateMysql } from 'drizzle-orm/mysql2/migrator';
import mysql from 'mysql2/promise';
import pg from 'pg';

const folder = process.argv[2];
const url = process.env.DATABASE_URL;

if (!folder || !url) {
	console.error('usage: DATABASE_URL=URL node drizzle-migrate.mjs FOLDER');
	process.exit(2);
}

async function main() {
	if (url.startsWith('mysql:')) {
		const connection = await mysql.createConnection(url);
		try {
			const db = drizzleMysql(connection, { logger: true });
			await migrateMysql(db, { migrationsFolder: folder });
		} finally {
			await connection.end();
		}
		return;
	}
	const client = new pg.Client({ connectionString: url });
	await client.connect();
	try {
		const db = drizzlePg(client, { logger: true });
		await migratePg(db, { migrationsFolder: folder });
	} finally {
		await client.end();
	}
}

main().then(
	() => process.exit(0),
	(err) => {
		console.error(err && err.stack ? err.stack : String(err));
		process.exit(1);
	},
);
