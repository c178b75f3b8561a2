/* store_sql.c — the store's SQL plumbing: the statement table and cache,
 * generated SQL, transactions, stepping with the busy retry, checked binds.
 *
 * Workload: one writer (rank 0 of a launch) doing one small transaction per
 * job result — a job row update, ~10^2 curve rows, a few exponent rows, five
 * weight BLOBs — and live progress every --flush seconds; and any number of
 * readers (`rnnsweep status`, sqlite3, pandas) reading while it writes, which
 * WAL allows.  Every statement run more than once is in the table below,
 * prepared on first use (SQLITE_PREPARE_PERSISTENT) and kept until the store
 * closes; only generated SQL (schema, views, per-key queries) is prepared
 * per use.
 *
 * Locks held by others (a reader under the rollback journal, a checkpoint)
 * are waited for up to STORE_BUSY_SECONDS per lock by dbfile's busy handler,
 * with backoff and a line on stderr; BEGIN IMMEDIATE, COMMIT and statements
 * outside a transaction that still get SQLITE_BUSY or SQLITE_LOCKED are
 * retried within the same budget (sq_step).
 */
#include "store_int.h"
#include "rnnsweep/clock.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Jobs still `running` of launches that died (their runs row open),
 * grouped by launch. */
#define DEAD_RUNNING "SELECT COALESCE(j.run_id, 0) AS run, min(j.id) AS id, count(*) AS n" \
    " FROM jobs j LEFT JOIN runs r ON r.id = j.run_id" \
    " WHERE j.status = 'running' AND r.finished_at IS NULL" \
    " GROUP BY 1"

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",

    [ST_JOB_COLUMNS] = "SELECT name FROM pragma_table_info('jobs')",
    /* ' a b c ' (the columns of table ?1), NULL if there is no such table */
    [ST_TABLE_COLUMNS] = "SELECT ' ' || group_concat(name, ' ') || ' ' FROM pragma_table_info(?1)"
                         " WHERE (SELECT type FROM sqlite_master WHERE name = ?1) = 'table'",
    [ST_VIEW_SQL] = "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?1",

    [ST_SWEEP_INSERT] = "INSERT INTO sweeps(path, text, hash, added_at) VALUES (?1, ?2, ?3, ?4)"
                        " ON CONFLICT(hash) DO NOTHING",
    [ST_SWEEP_LOOKUP] = "SELECT id FROM sweeps WHERE hash = ?1",
    [ST_RUN_BEGIN] = "INSERT INTO runs(sweep_id, started_at, version, git, compiler, mpi, blas,"
                     " sqlite, hosts, ranks, slurm_job, command)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [ST_RUN_END] = "UPDATE runs SET finished_at = ?2, exit_code = ?3, jobs_done = ?4 WHERE id = ?1",
    [ST_JOB_INSERT] = NULL, /* generated from the key table */
    [ST_JOB_LOOKUP] = "SELECT id, config FROM jobs WHERE config_hash = ?1",
    [ST_LINK] = "INSERT INTO sweep_jobs(sweep_id, job_id) VALUES (?1, ?2)"
                " ON CONFLICT(sweep_id, job_id) DO NOTHING",
    /* store_recover, in this order; ?1 now, ?2 max_attempts */
    [ST_RECOVER_BLAME] = /* the job a launch died running alone is to blame; it stays a
                            suspect (runs alone) until a result clears it */
        "UPDATE jobs SET crashes = crashes + 1, suspect = 1,"
        " error = 'launch (run ' || COALESCE(run_id, '?') || ') died while this job ran alone'"
        " WHERE id IN (SELECT id FROM (" DEAD_RUNNING ") WHERE n = 1)",
    [ST_RECOVER_SUSPECT] = /* a launch that died with several jobs running blames none yet */
        "UPDATE jobs SET suspect = 1 WHERE status = 'running'"
        " AND COALESCE(run_id, 0) IN (SELECT run FROM (" DEAD_RUNNING ") WHERE n > 1)",
    [ST_RECOVER_FAIL] =
        "UPDATE jobs SET status = 'failed', suspect = 0, finished_at = ?1,"
        " error = 'its launch died ' || crashes || ' times while it ran alone (max_attempts ' || ?2 || ')'"
        " WHERE status = 'running' AND crashes >= ?2",
    [ST_RECOVER_REQUEUE] = "UPDATE jobs SET status = 'pending' WHERE status = 'running'",
    [ST_PENDING_SWEEP] = "SELECT j.id, j.config, j.suspect FROM jobs j"
                         " JOIN sweep_jobs w ON w.job_id = j.id"
                         " WHERE w.sweep_id = ?1 AND j.status = 'pending'"
                         " ORDER BY j.suspect DESC, j.id",
    [ST_PENDING_ALL] = "SELECT id, config, suspect FROM jobs WHERE status = 'pending'"
                       " ORDER BY suspect DESC, id",
    [ST_COUNTS_SWEEP] = "SELECT j.status, count(*) FROM jobs j JOIN sweep_jobs w ON w.job_id = j.id"
                        " WHERE w.sweep_id = ?1 GROUP BY j.status",
    [ST_COUNTS_ALL] = "SELECT status, count(*) FROM jobs GROUP BY status",
    [ST_JOB_STATUS] = "SELECT status FROM jobs WHERE id = ?1",
    [ST_STATUS_BY_HASH] = "SELECT status FROM jobs WHERE config_hash = ?1",
    /* a claim starts the attempt's progress at its checkpoint's iteration
     * (NULL without one), so no count of a dead attempt stays behind */
    [ST_CLAIM] = "UPDATE jobs SET status = 'running', attempts = attempts + 1, host = ?2,"
                 " rank = ?3,"
                 " run_id = ?4, started_at = ?5, finished_at = NULL, error = NULL,"
                 " iters_done = (SELECT iter FROM checkpoints WHERE job_id = ?1)"
                 " WHERE id = ?1 AND status = 'pending'",
    [ST_RESULT] = "UPDATE jobs SET status = ?2, host = ?3, rank = ?4, finished_at = ?5,"
                  " wall_seconds = COALESCE(wall_seconds, 0) + ?6, final_loss = ?7,"
                  " final_accuracy = ?8, iters_done = ?9, error = ?10,"
                  " attempts = MAX(attempts - ?11, 0), suspect = suspect * ?11,"
                  " val_loss = ?12, val_accuracy = ?13, test_loss = ?7, test_accuracy = ?8"
                  " WHERE id = ?1",
    [ST_CURVE_DEL] = "DELETE FROM curves WHERE job_id = ?1",
    [ST_CURVE_INS] = "INSERT INTO curves(job_id, iter, loss, accuracy) VALUES (?1, ?2, ?3, ?4)"
                     " ON CONFLICT(job_id, iter)"
                     " DO UPDATE SET loss = excluded.loss, accuracy = excluded.accuracy",
    [ST_LYAP_DEL] = "DELETE FROM lyapunov WHERE job_id = ?1",
    [ST_LYAP_INS] = "INSERT INTO lyapunov(job_id, phase, iter, idx, value, sd)"
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                    " ON CONFLICT(job_id, phase, iter, idx)"
                    " DO UPDATE SET value = excluded.value, sd = excluded.sd",
    [ST_WEIGHT_INS] = "INSERT OR REPLACE INTO weights(job_id, phase, name, rows, cols, data)"
                      " VALUES (?1, 'final', ?2, ?3, ?4, ?5)",
    [ST_CKPT_PUT] = "INSERT OR REPLACE INTO checkpoints(job_id, iter, saved_at, data)"
                    " VALUES (?1, ?2, ?3, ?4)",
    [ST_CKPT_DEL] = "DELETE FROM checkpoints WHERE job_id = ?1",
    [ST_CKPT_GET] = "SELECT data FROM checkpoints WHERE job_id = ?1",
    [ST_PROGRESS] = "UPDATE jobs SET iters_done = ?2 WHERE id = ?1 AND status = 'running'",
    [ST_DIAG_DEL] = "DELETE FROM diagnostics WHERE job_id = ?1",
    [ST_DIAG_INS] = "INSERT INTO diagnostics(job_id, iter, name, value) VALUES (?1, ?2, ?3, ?4)"
                    " ON CONFLICT(job_id, iter, name) DO UPDATE SET value = excluded.value",
    [ST_JOB_CONFIG] = "SELECT config, status FROM jobs WHERE id = ?1",
    [ST_WEIGHT_GET] = "SELECT rows, cols, data FROM weights"
                      " WHERE job_id = ?1 AND phase = 'final' AND name = ?2",

    [ST_NSWEEPS] = "SELECT count(*) FROM sweeps",
    /* running jobs, with the seconds since their claim and the iteration
     * their attempt resumed from (the checkpoint's; NULL for a fresh start) */
    [ST_RUNNING] = "SELECT j.id, j.host, j.rank, j.attempts, j.started_at,"
                   " (julianday('now') - julianday(j.started_at)) * 86400.0,"
                   " j.iters_done, j.\"iters\", c.iter"
                   " FROM jobs j LEFT JOIN checkpoints c ON c.job_id = j.id"
                   " WHERE j.status = 'running' ORDER BY j.started_at, j.id",
    [ST_LAST_RUN] = "SELECT id, sweep_id, started_at, finished_at, exit_code, jobs_done, ranks,"
                    " hosts, slurm_job, version, git, compiler, mpi, blas, sqlite, command"
                    " FROM runs ORDER BY id DESC LIMIT 1",
    [ST_MEAN_WALL] = "SELECT AVG(wall_seconds), count(wall_seconds) FROM jobs"
                     " WHERE status IN ('done', 'diverged')",
};

int sq_fail(store *s, int rc, const char *fmt, ...)
{
    char msg[STORE_ERRLEN - 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(s->err, sizeof s->err, "%.250s: %s", s->path, msg);
    return rc;
}

int sq_sqlfail(store *s, const char *what)
{
    return sq_fail(s, STORE_ERROR, "%s: %s", what, sqlite3_errmsg(s->db));
}

void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = b->cap - b->n;
        va_start(ap, fmt);
        int w = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? room : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && (size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + (size_t)w + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* INSERT INTO jobs(config_hash, config, <key columns>) with ?1 the hash, ?2
 * the text and ?(k + 3) key k's value; malloc'ed, NULL when out of memory. */
static char *job_insert_sql(const store *s)
{
    sbuf b = {0}, v = {0};
    sb_printf(&b, "INSERT INTO jobs(config_hash, config");
    for (size_t k = 0; k < s->nkeys; k++)
        if (s->has_col[k]) {
            sb_printf(&b, ", \"%s\"", s->keys[k].name);
            sb_printf(&v, ", ?%zu", k + 3);
        }
    sb_printf(&b, ") VALUES (?1, ?2%s) ON CONFLICT(config_hash) DO NOTHING", v.p ? v.p : "");
    free(v.p);
    if (b.oom || v.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

sqlite3_stmt *sq_stmt(store *s, int id)
{
    sqlite3_stmt *st = s->st[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    char *gen = NULL;
    const char *sql = stmt_sql[id];
    if (id == ST_JOB_INSERT && !(sql = gen = job_insert_sql(s))) {
        sq_fail(s, STORE_ERROR, "out of memory");
        return NULL;
    }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
    free(gen);
    if (rc != SQLITE_OK) {
        sq_sqlfail(s, "prepare");
        s->st[id] = NULL;
        return NULL;
    }
    return s->st[id];
}

sqlite3_stmt *sq_prepare(store *s, const char *sql, const char *what)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        sq_sqlfail(s, what);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* sqlite3_step, retrying SQLITE_BUSY and SQLITE_LOCKED (with backoff, within
 * the store's busy budget) where a retry is safe: outside a transaction
 * (BEGIN IMMEDIATE, single statements: SQLite rolled the attempt back) and
 * for COMMIT (the transaction stays open), and only before the statement
 * returned a row.  Inside a transaction the error is returned.  Bindings
 * survive the reset between attempts. */
int sq_step(store *s, sqlite3_stmt *st)
{
    double t0 = clock_now();
    int first = !sqlite3_stmt_busy(st); /* no rows returned yet: a retry repeats none */
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(st);
        int prim = rc & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || !first ||
            !(sqlite3_get_autocommit(s->db) || st == s->st[ST_COMMIT]) ||
            clock_now() - t0 >= s->busy.budget)
            return rc;
        if (attempt == 0)
            fprintf(stderr, "[store] %s: %s; retrying for up to %.0f s\n", s->path,
                    sqlite3_errmsg(s->db), s->busy.budget);
        sqlite3_reset(st);
        dbfile_backoff(attempt);
    }
}

int sq_done(store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sq_step(s, st);
    if (rc != SQLITE_DONE) {
        int r = sq_sqlfail(s, what);
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return STORE_OK;
}

static int bindfail(store *s, sqlite3_stmt *st, int i, int rc)
{
    const char *name = sqlite3_bind_parameter_name(st, i);
    return sq_fail(s, STORE_ERROR, "bind parameter %d%s%s of \"%.80s\": %s", i, name ? " " : "",
                   name ? name : "", sqlite3_sql(st), sqlite3_errstr(rc));
}

int sq_bind_i64(store *s, sqlite3_stmt *st, int i, sqlite3_int64 v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

int sq_bind_dbl(store *s, sqlite3_stmt *st, int i, double v)
{
    int rc = isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

int sq_bind_txt(store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

int sq_bind_blob(store *s, sqlite3_stmt *st, int i, const void *v, size_t n)
{
    int rc = sqlite3_bind_blob64(st, i, n ? v : "", (sqlite3_uint64)n, SQLITE_STATIC);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

int sq_bind_null(store *s, sqlite3_stmt *st, int i)
{
    int rc = sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

int sq_exec(store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        sq_fail(s, STORE_ERROR, "%s: %s", what, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return STORE_ERROR;
    }
    return STORE_OK;
}

int sq_begin(store *s)
{
    sqlite3_stmt *st = sq_stmt(s, ST_BEGIN);
    return st ? sq_done(s, st, "begin transaction") : STORE_ERROR;
}

int sq_commit(store *s)
{
    sqlite3_stmt *st = sq_stmt(s, ST_COMMIT);
    return st ? sq_done(s, st, "commit") : STORE_ERROR;
}

void sq_rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_stmt *st = sq_stmt(s, ST_ROLLBACK);
        if (st) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
}

int sq_query_int(store *s, const char *sql, sqlite3_int64 *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sq_step(s, st);
    if (rc != SQLITE_ROW) {
        int r = sq_sqlfail(s, sql);
        sqlite3_finalize(st);
        return r;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return STORE_OK;
}
