/*
 * sqlite: what the files of the sqlite backend share, and nothing else
 * includes. store/store.h is the interface callers see.
 *
 * A connection (struct store) belongs to one thread at a time. Every
 * helper that fails logs why, once, with what it was doing.
 */
#ifndef PREVIEWD_STORE_SQLITE_H
#define PREVIEWD_STORE_SQLITE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store/store.h"

struct store {
	sqlite3 *db;
	bool relaxed;        /* store_relax: commits not synced one by one */
	bool restore;        /* a durable transaction is open on a relaxed one */
};

/* Log the connection's last error, with what was being done. */
void store_log_error(struct store *st, const char *what);

/* Run SQL without parameters (pragmas, BEGIN, the schema). 0 or -1. */
int store_exec(struct store *st, const char *sql);
/* Prepare sql into *stmt; -1 (logged) leaves *stmt NULL. */
int store_prepare(struct store *st, const char *sql, sqlite3_stmt **stmt);

/* BEGIN IMMEDIATE: the write lock taken up front, so a transaction that
 * reads then writes never fails half-way with SQLITE_BUSY. */
int store_begin(struct store *st);
/* store_begin for a transaction that writes a credential (a password the
 * server gets next): synced at its commit even on a relaxed connection. */
int store_begin_durable(struct store *st);
/* Every commit of this connection synced (on) or not (off), from the next
 * one; nothing on a connection that is not relaxed. Outside a
 * transaction only. */
int store_durable(struct store *st, bool on);
int store_commit(struct store *st);
/* Roll back if a transaction is open; safe to call when none is. */
void store_rollback(struct store *st);

/* Bind a string (copied) to parameter i. */
void store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Column i as a string into out, "" for NULL, cut to size. */
void store_column_text(sqlite3_stmt *s, int i, char *out, size_t size);

/* Run one statement, binding ?1, ?2 ... from the arguments as types
 * says: 't' a string, 'i' an int64_t. The number of rows it changed, or
 * -1 (logged with what). */
int store_stmt_exec(struct store *st, const char *what, const char *sql,
    const char *types, ...);

/* Run sql (parameters ?1.. bound from texts) and hand each row to fn,
 * which stops the walk by returning non-zero. 0, or -1 (logged). */
int store_each_row(struct store *st, const char *sql,
    const char *const *params, int nparams,
    int (*fn)(sqlite3_stmt *, void *), void *arg, const char *what);

/* Enqueue a job inside the caller's transaction (store_job_enqueue's
 * body). */
int store_job_insert(struct store *st, const char *kind, const char *target,
    int64_t delay_ms);

/* Insert a new environment row for ev inside the caller's transaction,
 * with fresh physical names; present false records it as already
 * deleted. given_name: the display name, or NULL for "preview-pr-N". */
int store_env_insert(struct store *st, const struct pr_event *ev,
    const char *id, bool present, const char *given_name);

/* Apply ev's desired state (an open or push: present at its head; a
 * close: not present) to environment id, inside the caller's
 * transaction. */
int store_env_apply(struct store *st, const struct pr_event *ev,
    const char *id);

#endif
