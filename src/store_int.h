/* store_int.h — what the files of the store share; not a public header.
 *
 * The store (include/rnnsweep/store.h) is a family of files around one
 * struct, each with one concept:
 *   store_sql.c     SQL plumbing: the statement table and its cache, sbuf,
 *                   transactions, stepping with the busy retry, checked binds;
 *   store_schema.c  the schema (its DDL is the one description of every
 *                   table and column), the views, migrations, the schema check;
 *   store.c         opening: file and header checks, the launch lock, close;
 *   store_jobs.c    sweeps, runs, claims, results, progress, recovery, readers;
 *   store_status.c  the status report, human and JSON.
 * Beneath them, dbfile.c is the file layer (permissions, headers, the lock).
 * Internal names are prefixed sq_ (plumbing), schema_ and job_.
 */
#ifndef RNNSWEEP_STORE_INT_H
#define RNNSWEEP_STORE_INT_H

#include "rnnsweep/store.h"

#include "dbfile.h"

#include <sqlite3.h>

#define STORE_APP_ID 0x524E5357 /* PRAGMA application_id: 'RNSW' */
#define STORE_SCHEMA 2          /* PRAGMA user_version written by this code */
#define STORE_BUSY_SECONDS 60.0 /* longest wait for one lock held by another process */
#define MAXKEYS 64

/* The statement table (store_sql.c): every statement run more than once is
 * prepared on first use and cached in the store until it closes. */
enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    /* schema (store_schema.c) */
    ST_JOB_COLUMNS, ST_TABLE_COLUMNS, ST_VIEW_SQL,
    /* jobs (store_jobs.c) */
    ST_SWEEP_INSERT, ST_SWEEP_LOOKUP, ST_RUN_BEGIN, ST_RUN_END,
    ST_JOB_INSERT, ST_JOB_LOOKUP, ST_LINK,
    ST_RECOVER_BLAME, ST_RECOVER_SUSPECT, ST_RECOVER_FAIL, ST_RECOVER_REQUEUE,
    ST_PENDING_SWEEP, ST_PENDING_ALL, ST_COUNTS_SWEEP, ST_COUNTS_ALL, ST_JOB_STATUS,
    ST_STATUS_BY_HASH,
    ST_CLAIM, ST_RESULT, ST_CURVE_DEL, ST_CURVE_INS, ST_LYAP_DEL, ST_LYAP_INS,
    ST_WEIGHT_INS, ST_CKPT_PUT, ST_CKPT_DEL, ST_CKPT_GET, ST_PROGRESS, ST_DIAG_DEL, ST_DIAG_INS,
    ST_JOB_CONFIG, ST_WEIGHT_GET,
    /* status (store_status.c) */
    ST_NSWEEPS, ST_RUNNING, ST_LAST_RUN, ST_MEAN_WALL,
    ST_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    int flags;
    dbfile_lock *lock;          /* the launch lock (STORE_LOCK), or NULL */
    dbfile_busy busy;           /* bounded wait for locks held by others */
    size_t nkeys;
    const config_key *keys;
    unsigned char has_col[MAXKEYS]; /* key k has its jobs column */
    sqlite3_stmt *st[ST_COUNT];
    char err[STORE_ERRLEN];
};

/* ---- store_sql.c ---- */

/* Set s->err to "PATH: <fmt>"; returns rc. */
int sq_fail(store *s, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* STORE_ERROR with "PATH: what: <sqlite message>". */
int sq_sqlfail(store *s, const char *what);

/* Growable string for generated SQL; oom is sticky, p is malloc'ed (NULL
 * until the first write). */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The cached statement id, reset and unbound; NULL with s->err on failure.
 * A caller that stops before SQLITE_DONE resets it (sqlite3_reset), so no
 * cached statement holds a read transaction open. */
sqlite3_stmt *sq_stmt(store *s, int id);

/* A statement outside the table (generated SQL), to finalize; NULL with
 * s->err "what: <sqlite message>" on failure. */
sqlite3_stmt *sq_prepare(store *s, const char *sql, const char *what);

/* sqlite3_step with the busy retry (store_sql.c says when it retries). */
int sq_step(store *s, sqlite3_stmt *st);

/* Step a statement that returns no rows, then reset it; STORE_OK or
 * STORE_ERROR with "what: <sqlite message>". */
int sq_done(store *s, sqlite3_stmt *st, const char *what);

/* Bind parameter i: STORE_OK, or STORE_ERROR with "bind ...: <why>" in
 * s->err (a string or BLOB over SQLite's length limit is SQLITE_TOOBIG).
 * Chain them with ||, which is sequenced.  bind_dbl binds NaN and infinities
 * as NULL; bind_txt binds v == NULL as NULL; bind_blob's bytes must stay
 * valid until the statement is reset. */
int sq_bind_i64(store *s, sqlite3_stmt *st, int i, sqlite3_int64 v);
int sq_bind_dbl(store *s, sqlite3_stmt *st, int i, double v);
int sq_bind_txt(store *s, sqlite3_stmt *st, int i, const char *v);
int sq_bind_blob(store *s, sqlite3_stmt *st, int i, const void *v, size_t n);
int sq_bind_null(store *s, sqlite3_stmt *st, int i);

/* Run SQL text (several statements); STORE_OK or STORE_ERROR with what. */
int sq_exec(store *s, const char *sql, const char *what);

/* BEGIN IMMEDIATE / COMMIT (both with the busy retry); rollback if a
 * transaction is open, keeping s->err. */
int sq_begin(store *s);
int sq_commit(store *s);
void sq_rollback(store *s);

/* One integer from a query without parameters; STORE_OK or STORE_ERROR. */
int sq_query_int(store *s, const char *sql, sqlite3_int64 *v);

/* ---- store_schema.c ---- */

/* STORE_ERROR if the key table cannot be stored: more than MAXKEYS keys, or
 * a key named as a fixed jobs column. */
int schema_check_keys(store *s);

/* Which key columns jobs has (s->has_col). */
int schema_scan_columns(store *s);

/* STORE_REFUSED naming the first table or column of schema 1 that is
 * missing (a damaged file). */
int schema_check(store *s);

/* In one write transaction: check the file is still ours (or empty), create
 * the schema if new or migrate an older one, add columns and views for the
 * current key table. */
int schema_init(store *s);

/* ---- store_jobs.c ---- */

/* enum job_status of a jobs.status text; -1 if none. */
int job_status_parse(const char *name);

#endif
