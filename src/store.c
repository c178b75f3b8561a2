/* store.c — the results database (SQLite): schema, checks, inserts, claims, resume.
 *
 * The only code that speaks SQL.  Workload: one writer (rank 0 of a launch)
 * doing one small transaction per job result — a job row update, ~10^2 curve
 * rows, a few exponent rows, five weight BLOBs — on a hot path whose
 * statements are prepared once and cached in the store; and any number of
 * readers (`rnnsweep status`, sqlite3, pandas) reading while it writes, which
 * WAL allows.  With synchronous=NORMAL in WAL a commit does not fsync (a power
 * cut may lose the last results, never corrupt the file; the jobs rerun).
 * On NFS/Lustre use STORE_JOURNAL_DELETE (rollback journal, synchronous=FULL).
 *
 * Schema version 2 (PRAGMA application_id = 0x524E5357 'RNSW',
 * PRAGMA user_version = 2; a version 1 file is migrated on its first
 * read-write open, see migrate()):
 *
 *   sweeps(id INTEGER PRIMARY KEY, path TEXT, text TEXT NOT NULL,
 *          hash TEXT NOT NULL UNIQUE,           -- FNV-1a 64 of text, 16 hex digits
 *          added_at TEXT NOT NULL)              -- ISO-8601 UTC, 2024-05-01T12:00:00Z
 *   runs(id INTEGER PRIMARY KEY, sweep_id INTEGER REFERENCES sweeps(id),
 *        started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, jobs_done INTEGER,
 *        version TEXT, git TEXT, compiler TEXT, mpi TEXT, blas TEXT, sqlite TEXT,
 *        hosts TEXT, ranks INTEGER, slurm_job TEXT, command TEXT)
 *   jobs(id INTEGER PRIMARY KEY,
 *        config_hash TEXT NOT NULL UNIQUE,      -- config_hash(), 16 hex digits
 *        config TEXT NOT NULL,                  -- config_canonical(): key=value lines
 *        <one column per config key, named as the key and generated from
 *         config_keys(): enum keys TEXT (the name), integer keys INTEGER,
 *         real keys REAL; all NOT NULL>,
 *        status TEXT NOT NULL DEFAULT 'pending'
 *               CHECK (status IN ('pending','running','done','diverged','failed','timeout')),
 *        attempts INTEGER NOT NULL DEFAULT 0,   -- launches that claimed it (an
 *                                                  interrupted, checkpointed attempt is given back)
 *        host TEXT, rank INTEGER,               -- where the last attempt ran
 *        run_id INTEGER REFERENCES runs(id),
 *        started_at TEXT, finished_at TEXT,     -- ISO-8601 UTC
 *        wall_seconds REAL,                     -- compute time summed over attempts
 *        final_loss REAL, final_accuracy REAL,  -- = test_*; for a schema-1 job: one
 *                                                  evaluation batch. NULL when unknown
 *                                                  or not finite
 *        iters_done INTEGER,                    -- iteration of the last curve row
 *        error TEXT,
 *        crashes INTEGER NOT NULL DEFAULT 0,    -- launch deaths blamed on it (store_recover)
 *        suspect INTEGER NOT NULL DEFAULT 0,    -- 1: was running when a launch with
 *                                                  other jobs died; runs alone next
 *        val_loss, val_accuracy REAL,           -- validation trials (SPEC §7: lr choice)
 *        test_loss, test_accuracy REAL)         -- test trials (reported)
 *   sweep_jobs(sweep_id REFERENCES sweeps(id), job_id REFERENCES jobs(id),
 *              PRIMARY KEY (sweep_id, job_id)) WITHOUT ROWID
 *   curves(job_id REFERENCES jobs(id), iter INTEGER, loss REAL, accuracy REAL,
 *          PRIMARY KEY (job_id, iter)) WITHOUT ROWID
 *   lyapunov(job_id REFERENCES jobs(id),
 *            phase TEXT CHECK (phase IN ('init','floss','train','trained')),
 *            iter INTEGER, idx INTEGER,
 *            value REAL, sd REAL,                -- mean and sd over the batch, nats/step
 *            PRIMARY KEY (job_id, phase, iter, idx)) WITHOUT ROWID
 *   weights(job_id REFERENCES jobs(id), phase TEXT,   -- 'final'
 *           name TEXT,                          -- W_in, W_rec, b, W_out, b_out
 *           rows INTEGER, cols INTEGER,
 *           data BLOB,                          -- rows*cols float64, little-endian, row-major
 *           PRIMARY KEY (job_id, phase, name))
 *   diagnostics(job_id REFERENCES jobs(id), iter INTEGER, name TEXT, value REAL,
 *               PRIMARY KEY (job_id, iter, name)) WITHOUT ROWID
 *                                               -- align_*, drift_* (train.h, SPEC §8)
 *   thresholds(task TEXT PRIMARY KEY, accuracy REAL NOT NULL)
 *                                               -- solve thresholds (SPEC §7), editable
 *   checkpoints(job_id INTEGER PRIMARY KEY REFERENCES jobs(id), iter INTEGER,
 *               saved_at TEXT NOT NULL, data BLOB NOT NULL)   -- train_checkpoint_save image
 *   index jobs_status ON jobs(status)
 *
 * Views (plain SQL, readable by the sqlite3 CLI and pandas without this code;
 * G = task, rule, gain, lr, floss_iters, then every other config key except
 * seed, in key-table order — generated, and regenerated when the key table
 * changes; view_sql() has the exact definitions):
 *   summary: per G — n_jobs, n_seeds (done or diverged), n_done, n_diverged,
 *            n_legacy (done without val_loss: a schema-1 job), and over the
 *            done jobs mean_val_loss, mean_test_loss, mean_test_accuracy,
 *            n_solved (test accuracy >= the task's threshold), and the old
 *            mean/sd/var_final_loss, mean_final_accuracy.
 *   best_lr: per G without lr, the summary row of the lr with the fewest
 *            diverged seeds, then the lowest mean_val_loss (lr breaks ties),
 *            with n_lrs compared and lr_at_edge (the smallest or largest lr
 *            of the group: widen the grid before a verdict).
 *   success: per G, n (= n_seeds), n_solved, rate and its Wilson 95%
 *            interval wilson_lo, wilson_hi.
 * sqrt() is needed for sd_final_loss and the Wilson bounds; Debian's SQLite
 * (3.40, math functions on) has it; without it those columns are NULL.
 *
 * Opening (store_open; the files themselves are dbfile.c's).  Before SQLite
 * opens anything: the path is not empty, the file (if any) is a regular
 * file with a valid SQLite header that is ours or an empty database's, and
 * for a read-write open the file and its directory are writable (so a
 * refused database gets no -wal, -shm or -journal).  Then the launch lock
 * (STORE_LOCK: on the database file itself, see dbfile.c; a missing file is
 * created empty to carry it) and the same look again, since the file may
 * have changed before the lock was ours.  Then SQLite: reading
 * application_id, user_version and the table count rolls back a hot
 * journal or recovers a WAL left by a writer that died; a file with tables
 * and no id of ours is refused, and until it is known to be ours the
 * connection does not checkpoint on close.  A read-write open then runs the
 * schema check (every table and column of schema 1) and PRAGMA quick_check,
 * so a damaged file is refused before anything is claimed.  Only then the
 * journal mode and the schema updates are written.  New key-table keys get
 * a column (ALTER TABLE ADD COLUMN with the key's default).
 *
 * Read-only opens (status, export) never create side files for a database
 * they cannot write: when this user may write the file and its directory,
 * they open it read-write with PRAGMA query_only (so SQLite recovers a
 * crashed writer's journal or WAL, and removes its -wal and -shm at close
 * like any last connection); otherwise with mode=ro, or immutable=1 for a
 * WAL database whose -wal is absent (a finished database in a read-only
 * place), and a file that needs recovery is refused with the reason.
 *
 * Locks held by others (a reader under the rollback journal, a checkpoint)
 * are waited for up to STORE_BUSY_SECONDS per lock, with backoff and a line
 * on stderr; BEGIN IMMEDIATE, COMMIT and statements outside a transaction
 * that still get SQLITE_BUSY or SQLITE_LOCKED are retried within the same
 * budget.
 */
#include "rnnsweep/store.h"

#include "dbfile.h"
#include "rnnsweep/task.h"

#include <sqlite3.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define STORE_APP_ID 0x524E5357
#define STORE_SCHEMA 2
#define STORE_BUSY_SECONDS 60.0 /* longest wait for one lock held by another process */
#define MAXKEYS 64

/* The per-task solve thresholds of SPEC §7, a table users may edit. */
#define DIAGNOSTICS_SQL \
    "CREATE TABLE diagnostics (job_id INTEGER NOT NULL REFERENCES jobs(id),\n" \
    "  iter INTEGER NOT NULL, name TEXT NOT NULL, value REAL,\n" \
    "  PRIMARY KEY (job_id, iter, name)) WITHOUT ROWID;\n"
#define THRESHOLDS_SQL \
    "CREATE TABLE thresholds (task TEXT PRIMARY KEY, accuracy REAL NOT NULL);\n" \
    "INSERT INTO thresholds VALUES ('romo', 0.9), ('dms', 0.9), ('2af', 0.8);\n"

static const char *const status_names[] = {"pending", "running", "done", "diverged", "failed",
                                           "timeout"};
static const char *const phase_names[] = {"init", "floss", "train", "trained"};
static const char *const fixed_cols[] = {"id", "config_hash", "config", "status", "attempts",
                                         "host", "rank", "run_id", "started_at", "finished_at",
                                         "wall_seconds", "final_loss", "final_accuracy",
                                         "iters_done", "error", "crashes", "suspect", "val_loss",
                                         "val_accuracy", "test_loss", "test_accuracy", NULL};
/* Leading grouping columns of the views; the other keys follow in table order. */
static const char *const lead_keys[] = {"task", "rule", "gain", "lr", "floss_iters", NULL};

/* Cached statements of the hot paths, prepared on first use. */
enum {
    ST_BEGIN, ST_COMMIT, ST_ROLLBACK,
    ST_JOB_INSERT, ST_JOB_LOOKUP, ST_LINK,
    ST_CLAIM, ST_RESULT, ST_CURVE_DEL, ST_CURVE_INS, ST_LYAP_DEL, ST_LYAP_INS,
    ST_WEIGHT_INS, ST_CKPT_PUT, ST_CKPT_DEL, ST_CKPT_GET, ST_PROGRESS, ST_DIAG_DEL, ST_DIAG_INS,
    ST_COUNT
};

static const char *const stmt_sql[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_JOB_INSERT] = NULL, /* generated from the key table */
    [ST_JOB_LOOKUP] = "SELECT id, config FROM jobs WHERE config_hash = ?1",
    [ST_LINK] = "INSERT INTO sweep_jobs(sweep_id, job_id) VALUES (?1, ?2)"
                " ON CONFLICT(sweep_id, job_id) DO NOTHING",
    [ST_CLAIM] = "UPDATE jobs SET status = 'running', attempts = attempts + 1, host = ?2,"
                 " rank = ?3,"
                 " run_id = ?4, started_at = ?5, finished_at = NULL, error = NULL"
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

/* ---------------------------------------------------------------- helpers */

/* Set s->err to "PATH: <fmt>"; returns rc. */
static int fail(store *s, int rc, const char *fmt, ...)
{
    char msg[STORE_ERRLEN - 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(s->err, sizeof s->err, "%.250s: %s", s->path, msg);
    return rc;
}

/* STORE_ERROR with "PATH: what: <sqlite message>". */
static int sqlfail(store *s, const char *what)
{
    return fail(s, STORE_ERROR, "%s: %s", what, sqlite3_errmsg(s->db));
}

static void iso_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int host_le(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

static void hash_hex(uint64_t h, char buf[17])
{
    snprintf(buf, 17, "%016" PRIx64, h);
}

/* Growable string for generated SQL. */
typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...)
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

/* The cached statement id, reset and unbound; NULL with s->err on failure. */
static sqlite3_stmt *stmt(store *s, int id)
{
    sqlite3_stmt *st = s->st[id];
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        return st;
    }
    char *gen = NULL;
    const char *sql = stmt_sql[id];
    if (id == ST_JOB_INSERT) {
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
            fail(s, STORE_ERROR, "out of memory");
            return NULL;
        }
        sql = gen = b.p;
    }
    int rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[id], NULL);
    free(gen);
    if (rc != SQLITE_OK) {
        sqlfail(s, "prepare");
        s->st[id] = NULL;
        return NULL;
    }
    return s->st[id];
}

/* sqlite3_step, retrying SQLITE_BUSY and SQLITE_LOCKED (with backoff, within
 * the store's busy budget) where a retry is safe: outside a transaction
 * (BEGIN IMMEDIATE, single statements: SQLite rolled the attempt back) and
 * for COMMIT (the transaction stays open), and only before the statement
 * returned a row.  Inside a transaction the error is returned.  Bindings
 * survive the reset between attempts. */
static int step(store *s, sqlite3_stmt *st)
{
    double t0 = dbfile_now();
    int first = !sqlite3_stmt_busy(st); /* no rows returned yet: a retry repeats none */
    for (int attempt = 0;; attempt++) {
        int rc = sqlite3_step(st);
        int prim = rc & 0xff;
        if ((prim != SQLITE_BUSY && prim != SQLITE_LOCKED) || !first ||
            !(sqlite3_get_autocommit(s->db) || st == s->st[ST_COMMIT]) ||
            dbfile_now() - t0 >= s->busy.budget)
            return rc;
        if (attempt == 0)
            fprintf(stderr, "[store] %s: %s; retrying for up to %.0f s\n", s->path,
                    sqlite3_errmsg(s->db), s->busy.budget);
        sqlite3_reset(st);
        dbfile_backoff(attempt);
    }
}

/* Step a statement that returns no rows; 0 or STORE_ERROR. */
static int step_done(store *s, sqlite3_stmt *st, const char *what)
{
    int rc = step(s, st);
    if (rc != SQLITE_DONE) {
        int r = sqlfail(s, what);
        sqlite3_reset(st);
        return r;
    }
    sqlite3_reset(st);
    return STORE_OK;
}

/* Bind helpers: each returns STORE_OK, or STORE_ERROR with "bind ...: <why>"
 * in s->err (a string or BLOB over SQLite's length limit is SQLITE_TOOBIG).
 * Chain them with ||, which is sequenced. */
static int bindfail(store *s, sqlite3_stmt *st, int i, int rc)
{
    const char *name = sqlite3_bind_parameter_name(st, i);
    return fail(s, STORE_ERROR, "bind parameter %d%s%s of \"%.80s\": %s", i, name ? " " : "",
                name ? name : "", sqlite3_sql(st), sqlite3_errstr(rc));
}

static int bind_i64(store *s, sqlite3_stmt *st, int i, sqlite3_int64 v)
{
    int rc = sqlite3_bind_int64(st, i, v);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

/* A finite double, or NULL. */
static int bind_dbl(store *s, sqlite3_stmt *st, int i, double v)
{
    int rc = isfinite(v) ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

/* Text (copied by SQLite), or NULL for v == NULL. */
static int bind_txt(store *s, sqlite3_stmt *st, int i, const char *v)
{
    int rc = v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

/* A BLOB of n bytes that stays valid until the statement is reset. */
static int bind_blob(store *s, sqlite3_stmt *st, int i, const void *v, size_t n)
{
    int rc = sqlite3_bind_blob64(st, i, n ? v : "", (sqlite3_uint64)n, SQLITE_STATIC);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

static int bind_null(store *s, sqlite3_stmt *st, int i)
{
    int rc = sqlite3_bind_null(st, i);
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

static int exec(store *s, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fail(s, STORE_ERROR, "%s: %s", what, msg ? msg : sqlite3_errmsg(s->db));
        sqlite3_free(msg);
        return STORE_ERROR;
    }
    return STORE_OK;
}

static int begin(store *s)
{
    sqlite3_stmt *st = stmt(s, ST_BEGIN);
    return st ? step_done(s, st, "begin transaction") : STORE_ERROR;
}

static int commit(store *s)
{
    sqlite3_stmt *st = stmt(s, ST_COMMIT);
    return st ? step_done(s, st, "commit") : STORE_ERROR;
}

/* Roll back if a transaction is open; keeps s->err. */
static void rollback(store *s)
{
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_stmt *st = stmt(s, ST_ROLLBACK);
        if (st) {
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
}

/* One integer from a query without parameters; 0 or STORE_ERROR. */
static int query_int(store *s, const char *sql, sqlite3_int64 *v)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = step(s, st);
    if (rc != SQLITE_ROW) {
        int r = sqlfail(s, sql);
        sqlite3_finalize(st);
        return r;
    }
    *v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return STORE_OK;
}

const char *store_status_name(int status)
{
    return status >= 0 && status <= JOB_TIMEOUT ? status_names[status] : NULL;
}

static int status_parse(const char *name)
{
    for (int i = 0; i <= JOB_TIMEOUT; i++)
        if (name && strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

/* A stored config back into c (config_parse_canonical). */
static int parse_canonical(store *s, long job_id, const char *text, config *c)
{
    char err[CONFIG_ERRLEN];
    if (config_parse_canonical(text, c, err) != 0)
        return fail(s, STORE_ERROR, "job %ld: stored config %s", job_id, err);
    return STORE_OK;
}

/* ---------------------------------------------------------------- schema */

static const char *col_type(int kind)
{
    return kind == CK_ENUM ? "TEXT" : kind == CK_INT ? "INTEGER" : "REAL";
}

static int is_lead(const char *name)
{
    for (int i = 0; lead_keys[i]; i++)
        if (strcmp(lead_keys[i], name) == 0)
            return 1;
    return 0;
}

/* G (see top), comma-separated and quoted: the lead keys in their order,
 * then the other keys in table order; never seed; lr unless without_lr. */
static void view_keys(const store *s, sbuf *b, int without_lr)
{
    int first = 1;
    for (int i = 0; lead_keys[i]; i++) {
        int k = config_key_find(lead_keys[i]);
        if (k < 0 || !s->has_col[k] || (without_lr && !strcmp(lead_keys[i], "lr")))
            continue;
        sb_printf(b, "%s\"%s\"", first ? "" : ", ", lead_keys[i]);
        first = 0;
    }
    for (size_t k = 0; k < s->nkeys; k++) {
        const char *name = s->keys[k].name;
        if (!s->has_col[k] || is_lead(name) || strcmp(name, "seed") == 0)
            continue;
        sb_printf(b, "%s\"%s\"", first ? "" : ", ", name);
        first = 0;
    }
}

/* The three views (see the top of this file), as CREATE VIEW statements:
 * out[VIEW_SUMMARY], out[VIEW_BEST], out[VIEW_SUCCESS] (malloc'ed).
 *
 * A job's reported loss/accuracy is its test metric, or final_* for a job
 * run before the held-out protocol (schema 1, test_* NULL); its selection
 * loss is val_loss, or final_loss for such a job (n_legacy counts them:
 * for those, selection and report use the same trials).  Solved: reported
 * accuracy >= the task's row of `thresholds`.  Wilson 95% interval of
 * n_solved / n with z = 1.959963984540054. */
enum { VIEW_SUMMARY, VIEW_BEST, VIEW_SUCCESS, NVIEWS };
static const char *const view_names[NVIEWS] = {"summary", "best_lr", "success"};

static int view_sql(store *s, int has_sqrt, char *out[NVIEWS])
{
    sbuf g = {0}, h = {0}, v[NVIEWS] = {{0}};
    view_keys(s, &g, 0);
    view_keys(s, &h, 1);
    const char *sq = has_sqrt ? "sqrt" : "NULL+";
    sb_printf(&v[VIEW_SUMMARY],
              "CREATE VIEW summary AS\n"
              "WITH f AS (SELECT *, COALESCE(test_loss, final_loss) AS rl,\n"
              "    COALESCE(test_accuracy, final_accuracy) AS ra,\n"
              "    COALESCE(val_loss, final_loss) AS sl,\n"
              "    COALESCE(test_accuracy, final_accuracy) >=\n"
              "      (SELECT accuracy FROM thresholds t WHERE t.task = jobs.task) AS solved\n"
              "  FROM jobs),\n"
              "g AS (SELECT *, AVG(CASE WHEN status = 'done' THEN final_loss END)\n"
              "    OVER (PARTITION BY %s) AS m FROM f)\n"
              "SELECT %s,\n"
              "  COUNT(*) AS n_jobs,\n"
              "  SUM(status IN ('done', 'diverged')) AS n_seeds,\n"
              "  SUM(status = 'done') AS n_done,\n"
              "  SUM(status = 'diverged') AS n_diverged,\n"
              "  SUM(status = 'done' AND val_loss IS NULL) AS n_legacy,\n"
              "  AVG(CASE WHEN status = 'done' THEN sl END) AS mean_val_loss,\n"
              "  AVG(CASE WHEN status = 'done' THEN rl END) AS mean_test_loss,\n"
              "  AVG(CASE WHEN status = 'done' THEN ra END) AS mean_test_accuracy,\n"
              "  SUM(status = 'done' AND COALESCE(solved, 0)) AS n_solved,\n"
              "  AVG(CASE WHEN status = 'done' THEN final_loss END) AS mean_final_loss,\n"
              "  %s(SUM(CASE WHEN status = 'done' THEN (final_loss - m) * (final_loss - m) END)\n"
              "    / NULLIF(SUM(status = 'done' AND final_loss IS NOT NULL) - 1, 0)) AS sd_final_loss,\n"
              "  SUM(CASE WHEN status = 'done' THEN (final_loss - m) * (final_loss - m) END)\n"
              "    / NULLIF(SUM(status = 'done' AND final_loss IS NOT NULL) - 1, 0) AS var_final_loss,\n"
              "  AVG(CASE WHEN status = 'done' THEN final_accuracy END) AS mean_final_accuracy\n"
              "FROM g GROUP BY %s ORDER BY %s",
              g.p, g.p, sq, g.p, g.p);
    sb_printf(&v[VIEW_BEST],
              "CREATE VIEW best_lr AS\n"
              "SELECT %s, lr, n_lrs, lr = lr_min OR lr = lr_max AS lr_at_edge,\n"
              "  n_jobs, n_seeds, n_done, n_diverged, n_legacy, mean_val_loss, mean_test_loss,\n"
              "  mean_test_accuracy, n_solved, mean_final_loss, sd_final_loss, var_final_loss,\n"
              "  mean_final_accuracy\n"
              "FROM (SELECT *,\n"
              "    ROW_NUMBER() OVER (PARTITION BY %s ORDER BY n_seeds = 0, n_diverged,\n"
              "      mean_val_loss IS NULL, mean_val_loss, lr) AS pick,\n"
              "    SUM(n_seeds > 0) OVER (PARTITION BY %s) AS n_lrs,\n"
              "    MIN(lr) OVER (PARTITION BY %s) AS lr_min,\n"
              "    MAX(lr) OVER (PARTITION BY %s) AS lr_max\n"
              "  FROM summary)\n"
              "WHERE pick = 1 AND n_seeds > 0 ORDER BY %s",
              h.p, h.p, h.p, h.p, h.p, h.p);
    const char *z = "1.959963984540054";
    sb_printf(&v[VIEW_SUCCESS],
              "CREATE VIEW success AS\n"
              "SELECT %s, n, n_solved, rate,\n"
              "  (rate + %s*%s/(2.0*n) - %s*%s(rate*(1-rate)/n + %s*%s/(4.0*n*n))) / (1 + %s*%s/n)"
              " AS wilson_lo,\n"
              "  (rate + %s*%s/(2.0*n) + %s*%s(rate*(1-rate)/n + %s*%s/(4.0*n*n))) / (1 + %s*%s/n)"
              " AS wilson_hi\n"
              "FROM (SELECT %s, n_seeds AS n, n_solved, CAST(n_solved AS REAL) / n_seeds AS rate\n"
              "  FROM summary WHERE n_seeds > 0)\n"
              "ORDER BY %s",
              g.p, z, z, z, sq, z, z, z, z, z, z, z, sq, z, z, z, z, g.p, g.p);
    int oom = g.oom || h.oom || !g.p || !h.p;
    for (int i = 0; i < NVIEWS; i++)
        oom |= v[i].oom;
    free(g.p);
    free(h.p);
    if (oom) {
        for (int i = 0; i < NVIEWS; i++)
            free(v[i].p);
        return fail(s, STORE_ERROR, "out of memory");
    }
    for (int i = 0; i < NVIEWS; i++)
        out[i] = v[i].p;
    return STORE_OK;
}

/* Which key columns jobs has (PRAGMA table_info). */
static int scan_columns(store *s)
{
    sqlite3_stmt *st = NULL;
    memset(s->has_col, 0, sizeof s->has_col);
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info('jobs')", -1, &st, NULL))
        return sqlfail(s, "read the jobs columns");
    int rc;
    while ((rc = step(s, st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t k = 0; k < s->nkeys && name; k++)
            if (strcmp(s->keys[k].name, name) == 0)
                s->has_col[k] = 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STORE_OK : sqlfail(s, "read the jobs columns");
}

static int create_tables(store *s)
{
    sbuf b = {0};
    sb_printf(&b,
              "CREATE TABLE sweeps (id INTEGER PRIMARY KEY, path TEXT, text TEXT NOT NULL,\n"
              "  hash TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL);\n"
              "CREATE TABLE runs (id INTEGER PRIMARY KEY, sweep_id INTEGER REFERENCES sweeps(id),\n"
              "  started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, jobs_done INTEGER,\n"
              "  version TEXT, git TEXT, compiler TEXT, mpi TEXT, blas TEXT, sqlite TEXT,\n"
              "  hosts TEXT, ranks INTEGER, slurm_job TEXT, command TEXT);\n"
              "CREATE TABLE jobs (id INTEGER PRIMARY KEY,\n"
              "  config_hash TEXT NOT NULL UNIQUE, config TEXT NOT NULL,\n");
    for (size_t k = 0; k < s->nkeys; k++)
        sb_printf(&b, "  \"%s\" %s NOT NULL,\n", s->keys[k].name, col_type(s->keys[k].kind));
    sb_printf(&b,
              "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
              " ('pending', 'running', 'done', 'diverged', 'failed', 'timeout')),\n"
              "  attempts INTEGER NOT NULL DEFAULT 0, host TEXT, rank INTEGER,\n"
              "  run_id INTEGER REFERENCES runs(id), started_at TEXT, finished_at TEXT,\n"
              "  wall_seconds REAL, final_loss REAL, final_accuracy REAL, iters_done INTEGER,\n"
              "  error TEXT, crashes INTEGER NOT NULL DEFAULT 0,"
              " suspect INTEGER NOT NULL DEFAULT 0,\n"
              "  val_loss REAL, val_accuracy REAL, test_loss REAL, test_accuracy REAL);\n"
              THRESHOLDS_SQL DIAGNOSTICS_SQL
              "CREATE INDEX jobs_status ON jobs(status);\n"
              "CREATE TABLE sweep_jobs (sweep_id INTEGER NOT NULL REFERENCES sweeps(id),\n"
              "  job_id INTEGER NOT NULL REFERENCES jobs(id), PRIMARY KEY (sweep_id, job_id))"
              " WITHOUT ROWID;\n"
              "CREATE TABLE curves (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  iter INTEGER NOT NULL, loss REAL, accuracy REAL, PRIMARY KEY (job_id, iter))"
              " WITHOUT ROWID;\n"
              "CREATE TABLE lyapunov (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  phase TEXT NOT NULL CHECK (phase IN ('init', 'floss', 'train', 'trained')),\n"
              "  iter INTEGER NOT NULL, idx INTEGER NOT NULL, value REAL, sd REAL,\n"
              "  PRIMARY KEY (job_id, phase, iter, idx)) WITHOUT ROWID;\n"
              "CREATE TABLE weights (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  phase TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER NOT NULL,\n"
              "  cols INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, phase, name));\n"
              "CREATE TABLE checkpoints (job_id INTEGER PRIMARY KEY REFERENCES jobs(id),\n"
              "  iter INTEGER, saved_at TEXT NOT NULL, data BLOB NOT NULL);\n"
              "PRAGMA application_id = %d;\n"
              "PRAGMA user_version = %d;\n",
              STORE_APP_ID, STORE_SCHEMA);
    int rc = b.oom ? fail(s, STORE_ERROR, "out of memory") : exec(s, b.p, "create the schema");
    free(b.p);
    return rc;
}

/* Columns for keys added to the key table since the file was made, and
 * views matching the current key table (replaced only when they differ). */
static int update_schema(store *s)
{
    int rc = scan_columns(s);
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++) {
        if (s->has_col[k])
            continue;
        char sql[512];
        const config_key *key = &s->keys[k];
        snprintf(sql, sizeof sql, "ALTER TABLE jobs ADD COLUMN \"%s\" %s NOT NULL DEFAULT %s%s%s",
                 key->name, col_type(key->kind), key->kind == CK_ENUM ? "'" : "", key->deflt,
                 key->kind == CK_ENUM ? "'" : "");
        rc = exec(s, sql, "add a column for a new config key");
        s->has_col[k] = rc == STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    sqlite3_int64 v;
    int has_sqrt = query_int(s, "SELECT sqrt(4)", &v) == STORE_OK;
    char *sql[NVIEWS] = {0};
    if ((rc = view_sql(s, has_sqrt, sql)) != STORE_OK)
        return rc;
    /* Replaced only when one differs: a reader's file stays untouched. */
    int same = 1;
    for (int i = 0; i < NVIEWS && same && rc == STORE_OK; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = ?1",
                               -1, &st, NULL) != SQLITE_OK ||
            sqlite3_bind_text(st, 1, view_names[i], -1, SQLITE_STATIC) != SQLITE_OK) {
            rc = sqlfail(s, "read the views");
        } else {
            int sr = sqlite3_step(st);
            same = sr == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), sql[i]) == 0;
            if (sr != SQLITE_ROW && sr != SQLITE_DONE)
                rc = sqlfail(s, "read the views");
        }
        sqlite3_finalize(st);
    }
    for (int i = NVIEWS - 1; i >= 0 && !same && rc == STORE_OK; i--) {
        char drop[64];
        snprintf(drop, sizeof drop, "DROP VIEW IF EXISTS %s", view_names[i]);
        rc = exec(s, drop, "drop a view");
    }
    for (int i = 0; i < NVIEWS && !same && rc == STORE_OK; i++)
        rc = exec(s, sql[i], "create a view");
    for (int i = 0; i < NVIEWS; i++)
        free(sql[i]);
    return rc;
}

/* Bring a schema `ver` database to STORE_SCHEMA, inside init_schema's
 * transaction (so a failed migration leaves the file as it was).
 *   1 -> 2: jobs.crashes (launch deaths blamed on the job) and jobs.suspect
 *           (running when a launch with other jobs died), both 0 for old
 *           rows, which is what they would have been; jobs.val_loss,
 *           val_accuracy, test_loss, test_accuracy, NULL for old rows (they
 *           were measured on one evaluation batch, kept in final_*); the
 *           thresholds and diagnostics tables.  Old rows keep every value. */
static int migrate(store *s, int ver)
{
    int rc = STORE_OK;
    if (ver < 2)
        rc = exec(s, "ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;"
                     "ALTER TABLE jobs ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0;"
                     "ALTER TABLE jobs ADD COLUMN val_loss REAL;"
                     "ALTER TABLE jobs ADD COLUMN val_accuracy REAL;"
                     "ALTER TABLE jobs ADD COLUMN test_loss REAL;"
                     "ALTER TABLE jobs ADD COLUMN test_accuracy REAL;" THRESHOLDS_SQL DIAGNOSTICS_SQL,
                  "migrate schema 1 to 2");
    if (rc == STORE_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA);
        rc = exec(s, sql, "set the schema version");
    }
    return rc;
}

/* In one write transaction: check the file is still ours (or empty), create
 * the schema if new, add columns and views for the current key table. */
static int init_schema(store *s)
{
    sqlite3_int64 app, ver, ntab;
    int rc = begin(s);
    if (rc == STORE_OK)
        rc = query_int(s, "PRAGMA application_id", &app);
    if (rc == STORE_OK)
        rc = query_int(s, "PRAGMA user_version", &ver);
    if (rc == STORE_OK)
        rc = query_int(s, "SELECT count(*) FROM sqlite_master", &ntab);
    if (rc == STORE_OK) {
        if (app == 0 && ntab == 0 && ver == 0)
            rc = create_tables(s);
        else if (app != STORE_APP_ID)
            rc = fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x)",
                      (unsigned)app);
        else if (ver > STORE_SCHEMA)
            rc = fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)", (int)ver,
                      STORE_SCHEMA);
        else if (ver < STORE_SCHEMA)
            rc = migrate(s, (int)ver);
    }
    if (rc == STORE_OK)
        rc = update_schema(s);
    if (rc == STORE_OK)
        rc = commit(s);
    if (rc != STORE_OK)
        rollback(s);
    return rc;
}

/* Tables of schema 1 and the columns every later schema keeps; a file that
 * lacks one is damaged (a dropped table, an edit by hand) and refused at
 * open, before anything is claimed.  Key columns are not listed: a missing
 * one is added by update_schema. */
static const char *const required_schema[][2] = {
    {"sweeps", "id path text hash added_at"},
    {"runs", "id sweep_id started_at finished_at exit_code jobs_done version git compiler mpi blas"
             " sqlite hosts ranks slurm_job command"},
    {"jobs", "id config_hash config status attempts host rank run_id started_at finished_at"
             " wall_seconds final_loss final_accuracy iters_done error"},
    {"sweep_jobs", "sweep_id job_id"},
    {"curves", "job_id iter loss accuracy"},
    {"lyapunov", "job_id phase iter idx value sd"},
    {"weights", "job_id phase name rows cols data"},
    {"checkpoints", "job_id iter saved_at data"},
};

/* STORE_REFUSED naming the first missing table or column of required_schema. */
static int check_schema(store *s)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT ' ' || group_concat(name, ' ') || ' ' FROM pragma_table_info(?1)"
                           " WHERE (SELECT type FROM sqlite_master WHERE name = ?1) = 'table'",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "read the schema");
    int rc = STORE_OK;
    size_t nt = sizeof required_schema / sizeof required_schema[0];
    for (size_t t = 0; t < nt && rc == STORE_OK; t++) {
        const char *table = required_schema[t][0];
        sqlite3_reset(st);
        if ((rc = bind_txt(s, st, 1, table)) != STORE_OK)
            break;
        int sr = step(s, st);
        const char *have = sr == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (sr != SQLITE_ROW) {
            rc = sqlfail(s, "read the schema");
        } else if (!have) {
            rc = fail(s, STORE_REFUSED, "damaged schema: table '%s' is missing (restore the file"
                      " from a copy)", table);
        } else {
            for (const char *c = required_schema[t][1]; *c && rc == STORE_OK;) {
                size_t n = strcspn(c, " ");
                char want[40];
                snprintf(want, sizeof want, " %.*s ", (int)n, c);
                if (!strstr(have, want))
                    rc = fail(s, STORE_REFUSED, "damaged schema: column %s.%.*s is missing"
                              " (restore the file from a copy)", table, (int)n, c);
                c += n + (c[n] == ' ');
            }
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- open */

/* Refusals that need only the header: not SQLite, another application's id,
 * a newer schema, or a journal of another program's database that SQLite
 * would roll back (ours carry our id, except while being created, when the
 * journal's original size is 0).  An empty file passes. */
static int check_header(store *s, const dbfile_state *fs)
{
    if (fs->size == 0)
        return STORE_OK;
    if (!fs->sqlite)
        return fail(s, STORE_REFUSED, "not an SQLite database");
    if (fs->app_id != STORE_APP_ID && fs->app_id != 0)
        return fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x)",
                    (unsigned)fs->app_id);
    if (fs->app_id == STORE_APP_ID && fs->user_version > STORE_SCHEMA)
        return fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)",
                    (int)fs->user_version, STORE_SCHEMA);
    if (fs->app_id == 0 && fs->journal && fs->journal_pages != 0)
        return fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0, with a"
                    " rollback journal %s-journal of another program)", fs->real);
    return STORE_OK;
}

/* Every check of a read-write open that looks at files only: creates and
 * writes nothing.  fs receives what is on disk. */
static int check_files_rw(store *s, dbfile_state *fs)
{
    char why[DBFILE_ERRLEN];
    if (dbfile_stat(s->path, fs, why) != STORE_OK)
        return fail(s, STORE_REFUSED, "%s", why);
    if (!fs->exists) {
        if (!(s->flags & STORE_CREATE))
            return fail(s, STORE_REFUSED, "no such database");
        if (!fs->dir_exists)
            return fail(s, STORE_REFUSED, "directory %s does not exist", fs->dir);
        if (!fs->dir_w)
            return fail(s, STORE_REFUSED, "cannot create: the directory %s is not writable", fs->dir);
        return STORE_OK;
    }
    if (!fs->regular)
        return fail(s, STORE_REFUSED, "not a regular file");
    int rc = check_header(s, fs);
    if (rc == STORE_OK && !fs->file_w)
        rc = fail(s, STORE_REFUSED, "not writable: %s", strerror(EACCES));
    if (rc == STORE_OK && !fs->dir_w)
        rc = fail(s, STORE_REFUSED, "cannot write: the directory %s is not writable (SQLite keeps"
                  " its journal there)", fs->dir);
    return rc;
}

/* Open s->db (name: a path, or a URI with SQLITE_OPEN_URI in oflags) with
 * extended result codes and the bounded busy wait.  A WAL with content
 * (fs->wal_size > 0) is not checkpointed at close until the file is known
 * to be ours, so a refused file's WAL stays as it was; an empty one is, so
 * that SQLite removes the -wal and -shm it made. */
static int connect_db(store *s, const dbfile_state *fs, const char *name, int oflags)
{
    if (sqlite3_open_v2(name, &s->db, oflags, NULL) != SQLITE_OK)
        return s->db ? fail(s, STORE_REFUSED, "cannot open: %s", sqlite3_errmsg(s->db))
                     : fail(s, STORE_ERROR, "out of memory");
    sqlite3_extended_result_codes(s->db, 1);
    s->busy.path = s->path;
    s->busy.budget = STORE_BUSY_SECONDS;
    sqlite3_busy_handler(s->db, dbfile_busy_handler, &s->busy);
    if (fs->wal_size > 0)
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    return STORE_OK;
}

/* Why the first read of fs failed, as a refusal (or STORE_ERROR for a lock
 * that outlasted the busy wait).  Recovery of a crashed writer's journal or
 * WAL fails only on a connection that may not write. */
static int read_failure(store *s, const dbfile_state *fs, const char *what)
{
    int ext = sqlite3_extended_errcode(s->db), prim = ext & 0xff;
    char msg[256];
    snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(s->db));
    if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED)
        return fail(s, STORE_ERROR, "%s: %s", what, msg);
    if (prim == SQLITE_NOTADB)
        return fail(s, STORE_REFUSED, "not an SQLite database (%s)", msg);
    if (prim == SQLITE_CORRUPT)
        return fail(s, STORE_REFUSED, "the database is damaged (%s); restore it from a copy", msg);
    if (prim == SQLITE_READONLY || prim == SQLITE_CANTOPEN) {
        const char *side = fs->journal ? "-journal" : fs->wal_file ? "-wal" : NULL;
        if (side)
            return fail(s, STORE_REFUSED,
                        "%s%s, left by a writer that died, must be recovered before the database"
                        " can be read, and this user cannot write the file and its directory %s:"
                        " run rnnsweep status on it once as a user who can (%s)",
                        fs->real, side, fs->dir, msg);
    }
    return fail(s, STORE_REFUSED, "cannot read it: %s", msg);
}

/* Read the id, version and table count (the first reads: SQLite recovers a
 * hot journal or WAL here when it may write).  *fresh = 1 for an empty
 * database, ours to initialise; otherwise the file must be ours, not newer,
 * and have the whole schema; `full` adds PRAGMA quick_check.  After the
 * checks pass, the connection checkpoints at close again. */
static int check_content(store *s, const dbfile_state *fs, int full, int *fresh)
{
    sqlite3_int64 app = 0, ver = 0, ntab = 0;
    *fresh = 0;
    int rc = query_int(s, "PRAGMA application_id", &app);
    if (rc == STORE_OK)
        rc = query_int(s, "PRAGMA user_version", &ver);
    if (rc == STORE_OK)
        rc = query_int(s, "SELECT count(*) FROM sqlite_master", &ntab);
    if (rc != STORE_OK)
        return read_failure(s, fs, "read the header");
    if (app == 0 && ver == 0 && ntab == 0) {
        *fresh = 1;
    } else if (app != STORE_APP_ID) {
        return fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x, %lld"
                    " tables)", (unsigned)app, (long long)ntab);
    } else if (ver > STORE_SCHEMA) {
        return fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)", (int)ver,
                    STORE_SCHEMA);
    } else if ((rc = check_schema(s)) != STORE_OK) {
        return rc;
    }
    if (full && !*fresh) {
        char why[DBFILE_ERRLEN];
        rc = dbfile_quick_check(s->db, why);
        if (rc == STORE_REFUSED)
            return fail(s, STORE_REFUSED, "the database is damaged (PRAGMA quick_check: %s);"
                        " restore it from a copy", why);
        if (rc != STORE_OK)
            return fail(s, STORE_ERROR, "%s", why);
    }
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, (int *)NULL);
    return STORE_OK;
}

/* Read-write open: file checks, the launch lock, the file checks again
 * under it, then SQLite and the content checks; nothing is written before
 * they all pass. */
static int open_rw(store *s)
{
    dbfile_state fs;
    char why[DBFILE_ERRLEN];
    int rc = check_files_rw(s, &fs), fresh = 0;
    if (rc == STORE_OK && (s->flags & STORE_LOCK)) {
        rc = dbfile_lock_take(s->path, (s->flags & STORE_CREATE) != 0, &s->lock, why);
        if (rc != STORE_OK)
            return fail(s, rc, "%s", why);
        rc = check_files_rw(s, &fs);
    }
    if (rc == STORE_OK)
        rc = connect_db(s, &fs, s->path, SQLITE_OPEN_READWRITE |
                                        (s->flags & STORE_CREATE ? SQLITE_OPEN_CREATE : 0));
    if (rc == STORE_OK)
        rc = check_content(s, &fs, 1, &fresh);
    if (rc != STORE_OK)
        return rc;
    dbfile_lock_note(s->lock, fs.real);
    if (s->flags & STORE_JOURNAL_DELETE)
        rc = exec(s, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL", "set the journal");
    else
        rc = exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", "set the journal");
    if (rc == STORE_OK)
        rc = exec(s, "PRAGMA foreign_keys = ON", "enable foreign keys");
    if (rc == STORE_OK)
        rc = init_schema(s);
    return rc;
}

/* Connect for reading without side files for a database this user cannot
 * write (see the top of the file). */
static int connect_ro(store *s, const dbfile_state *fs)
{
    if (fs->file_w && fs->dir_w) {
        int rc = connect_db(s, fs, s->path, SQLITE_OPEN_READWRITE);
        return rc == STORE_OK ? exec(s, "PRAGMA query_only = 1", "open read-only") : rc;
    }
    if (fs->wal && fs->wal_file && !fs->shm_file)
        return fail(s, STORE_REFUSED,
                    "%s-wal, left by a writer, needs %s-shm to be read, and this user cannot"
                    " create it in %s: run rnnsweep status on it once as a user who can",
                    fs->real, fs->real, fs->dir);
    const char *params = fs->wal && !fs->wal_file ? "immutable=1" : "mode=ro";
    char *uri = dbfile_uri(s->path, params);
    if (!uri)
        return fail(s, STORE_ERROR, "out of memory");
    int rc = connect_db(s, fs, uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    free(uri);
    return rc;
}

/* Read-only open (status, export): an existing database of ours. */
static int open_ro(store *s)
{
    dbfile_state fs;
    char why[DBFILE_ERRLEN];
    if (dbfile_stat(s->path, &fs, why) != STORE_OK)
        return fail(s, STORE_REFUSED, "%s", why);
    if (!fs.exists)
        return fail(s, STORE_REFUSED, "no such database");
    if (!fs.regular)
        return fail(s, STORE_REFUSED, "not a regular file");
    int fresh = 0, rc = check_header(s, &fs);
    if (rc == STORE_OK)
        rc = connect_ro(s, &fs);
    if (rc == STORE_OK)
        rc = check_content(s, &fs, 0, &fresh);
    if (rc == STORE_OK && fresh)
        rc = fail(s, STORE_REFUSED, "empty database (no rnnsweep schema yet)");
    if (rc == STORE_OK)
        rc = scan_columns(s);
    return rc;
}

/* A new store for path with flags (NULL after a message in err). */
static store *store_new(const char *path, int flags, char err[STORE_ERRLEN], int *rc)
{
    *rc = STORE_ERROR;
    if (!path || !*path) {
        snprintf(err, STORE_ERRLEN, "--db '': the database path is empty");
        *rc = STORE_REFUSED;
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        snprintf(err, STORE_ERRLEN, "%.250s: out of memory", path);
        return NULL;
    }
    s->flags = flags;
    s->busy.path = s->path;
    s->busy.budget = STORE_BUSY_SECONDS;
    s->keys = config_keys(&s->nkeys);
    *rc = STORE_OK;
    if (s->nkeys > MAXKEYS) {
        *rc = fail(s, STORE_ERROR, "too many config keys (%zu)", s->nkeys);
    } else {
        for (size_t k = 0; k < s->nkeys && *rc == STORE_OK; k++)
            for (int i = 0; fixed_cols[i]; i++)
                if (strcmp(s->keys[k].name, fixed_cols[i]) == 0)
                    *rc = fail(s, STORE_ERROR, "config key '%s' clashes with a jobs column",
                               fixed_cols[i]);
    }
    if (*rc != STORE_OK) {
        snprintf(err, STORE_ERRLEN, "%s", s->err);
        store_close(s);
        return NULL;
    }
    return s;
}

int store_open(store **out, const char *path, int flags, char err[STORE_ERRLEN])
{
    int rc;
    *out = NULL;
    store *s = store_new(path, flags, err, &rc);
    if (!s)
        return rc;
    rc = flags & STORE_READONLY ? open_ro(s) : open_rw(s);
    if (rc != STORE_OK) {
        /* A new file whose schema failed stays empty of tables: the next
         * open initialises it. */
        snprintf(err, STORE_ERRLEN, "%s", s->err);
        store_close(s);
        return rc;
    }
    *out = s;
    return STORE_OK;
}

int store_check(const char *path, int flags, char err[STORE_ERRLEN])
{
    int rc, fresh;
    store *s = store_new(path, flags & ~(STORE_LOCK | STORE_READONLY), err, &rc);
    if (!s)
        return rc;
    dbfile_state fs;
    rc = check_files_rw(s, &fs);
    if (rc == STORE_OK && fs.exists && fs.size > 0)
        rc = connect_ro(s, &fs);
    if (rc == STORE_OK && s->db)
        rc = check_content(s, &fs, 1, &fresh);
    if (rc != STORE_OK)
        snprintf(err, STORE_ERRLEN, "%s", s->err);
    store_close(s);
    return rc;
}

int store_finish(store *s)
{
    if (!s || !s->db || (s->flags & STORE_READONLY))
        return STORE_OK;
    sqlite3_stmt *st = NULL;
    double budget = s->busy.budget;
    s->busy.budget = 2; /* a reader that holds the file open keeps WAL; not worth a long wait */
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = DELETE", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = step(s, st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (mode && strcmp(mode, "delete") == 0)
        rc = STORE_OK;
    else if (mode)
        rc = fail(s, STORE_ERROR, "the journal stays '%s' (another process has the file open)",
                  mode);
    else
        rc = sqlfail(s, "switch the journal to delete");
    sqlite3_finalize(st);
    s->busy.budget = budget;
    return rc;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    dbfile_lock_release(s->lock); /* after SQLite: see dbfile.h */
    free(s->path);
    free(s);
}

const char *store_errmsg(const store *s)
{
    return s ? s->err : "no store";
}

/* ---------------------------------------------------------------- job sizes */

/* Bytes of a job's largest BLOBs, at least: a checkpoint holds five copies
 * of the parameters (weights, Adam's two moments for training and for
 * flossing) besides its rows; the final W_rec is N*N doubles. */
static void job_blob_bytes(const config *c, double *ckpt, double *wrec)
{
    int T, I = 0, O = 0;
    task_dims(c->task, &T, &I, &O);
    *ckpt = 5.0 * 8.0 * (double)rnn_params_size((int)c->hidden, I, O);
    *wrec = 8.0 * (double)c->hidden * (double)c->hidden;
}

/* SQLite's length limit for s, or the library default without a store. */
static sqlite3_int64 blob_limit(store *s)
{
    if (s && s->db)
        return sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
    sqlite3 *db = NULL;
    sqlite3_int64 lim = 1000000000;
    if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, NULL) == SQLITE_OK)
        lim = sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1);
    sqlite3_close(db);
    return lim;
}

int store_check_job(store *s, const config *c, int with_weights, char err[STORE_ERRLEN])
{
    sqlite3_int64 lim = blob_limit(s);
    double ckpt, wrec;
    job_blob_bytes(c, &ckpt, &wrec);
    int weights_too_big = with_weights && wrec > (double)lim;
    if (ckpt <= (double)lim && !weights_too_big)
        return STORE_OK;
    /* The largest hidden whose blobs fit, for the message. */
    config t = *c;
    long lo = 0, hi = c->hidden;
    while (hi - lo > 1) {
        t.hidden = (lo + hi) / 2;
        double ck, w;
        job_blob_bytes(&t, &ck, &w);
        if (ck <= (double)lim && !(with_weights && w > (double)lim))
            lo = t.hidden;
        else
            hi = t.hidden;
    }
    snprintf(err, STORE_ERRLEN,
             "key 'hidden' = %ld: a job this size can never be stored: its %s of at least %.3g"
             " bytes exceeds SQLite's BLOB limit of %lld bytes (largest storable: hidden = %ld)",
             c->hidden, ckpt > (double)lim ? "checkpoint" : "final W_rec",
             ckpt > (double)lim ? ckpt : wrec, (long long)lim, lo);
    return STORE_REFUSED;
}

size_t store_blob_limit(store *s, size_t bytes)
{
    if (bytes > 0 && bytes < (size_t)INT32_MAX)
        sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, (int)bytes);
    return (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_LENGTH, -1);
}

/* ---------------------------------------------------------------- sweeps and jobs */

/* Bind key k of c to parameter i of st (typed column); STORE_OK or STORE_ERROR. */
static int bind_key(store *s, sqlite3_stmt *st, int i, const config_key *key, const config *c)
{
    const config_value v = config_value_get(c, config_key_find(key->name));
    int rc;
    switch (key->kind) {
    case CK_ENUM: rc = sqlite3_bind_text(st, i, key->choices[v.i], -1, SQLITE_STATIC); break;
    case CK_INT: rc = sqlite3_bind_int64(st, i, v.l); break;
    default: rc = sqlite3_bind_double(st, i, v.d); break;
    }
    return rc == SQLITE_OK ? STORE_OK : bindfail(s, st, i, rc);
}

/* Insert (or find) the job of config c; its id in *id, *added += 1 if new. */
static int add_job(store *s, const config *c, long sweep_id, size_t *added)
{
    char text[4096], hex[17];
    size_t len = config_canonical(c, text, sizeof text);
    if (len >= sizeof text)
        return fail(s, STORE_ERROR, "canonical config longer than %zu bytes", sizeof text);
    hash_hex(config_hash(c), hex);
    sqlite3_stmt *ins = stmt(s, ST_JOB_INSERT);
    if (!ins)
        return STORE_ERROR;
    int rc = bind_txt(s, ins, 1, hex);
    if (rc == STORE_OK)
        rc = bind_txt(s, ins, 2, text);
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++)
        if (s->has_col[k])
            rc = bind_key(s, ins, (int)k + 3, &s->keys[k], c);
    if (rc == STORE_OK)
        rc = step_done(s, ins, "insert a job");
    if (rc != STORE_OK)
        return rc;
    long id;
    if (sqlite3_changes(s->db) == 1) {
        ++*added;
        id = (long)sqlite3_last_insert_rowid(s->db);
    } else {
        sqlite3_stmt *q = stmt(s, ST_JOB_LOOKUP);
        if (!q)
            return STORE_ERROR;
        if (bind_txt(s, q, 1, hex) != STORE_OK)
            return STORE_ERROR;
        if (step(s, q) != SQLITE_ROW) {
            rc = sqlfail(s, "look up a job");
            sqlite3_reset(q);
            return rc;
        }
        id = (long)sqlite3_column_int64(q, 0);
        const char *stored = (const char *)sqlite3_column_text(q, 1);
        int same = stored && strcmp(stored, text) == 0;
        sqlite3_reset(q);
        if (!same)
            return fail(s, STORE_ERROR, "config hash %s of job %ld stands for another config", hex, id);
    }
    sqlite3_stmt *link = stmt(s, ST_LINK);
    if (!link)
        return STORE_ERROR;
    if (bind_i64(s, link, 1, sweep_id) || bind_i64(s, link, 2, id))
        return STORE_ERROR;
    return step_done(s, link, "link a job to its sweep");
}

int store_add_sweep(store *s, const char *path, const char *text, uint64_t hash,
                    const config *jobs, size_t n, long *sweep_id, size_t *added)
{
    char hex[17], now[32];
    sqlite3_stmt *st = NULL;
    *added = 0;
    *sweep_id = 0;
    hash_hex(hash, hex);
    iso_now(now);
    int rc = begin(s);
    if (rc != STORE_OK)
        return rc;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO sweeps(path, text, hash, added_at) VALUES (?1, ?2, ?3, ?4)"
                           " ON CONFLICT(hash) DO NOTHING",
                           -1, &st, NULL) != SQLITE_OK) {
        rc = sqlfail(s, "prepare");
        goto out;
    }
    if ((rc = bind_txt(s, st, 1, path)) || (rc = bind_txt(s, st, 2, text)) ||
        (rc = bind_txt(s, st, 3, hex)) || (rc = bind_txt(s, st, 4, now)) ||
        (rc = step_done(s, st, "insert the sweep")) != STORE_OK)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT id FROM sweeps WHERE hash = ?1", -1, &st, NULL) != SQLITE_OK) {
        rc = sqlfail(s, "prepare");
        goto out;
    }
    if ((rc = bind_txt(s, st, 1, hex)) != STORE_OK)
        goto out;
    if (step(s, st) != SQLITE_ROW) {
        rc = sqlfail(s, "look up the sweep");
        goto out;
    }
    *sweep_id = (long)sqlite3_column_int64(st, 0);
    for (size_t i = 0; i < n && rc == STORE_OK; i++)
        rc = add_job(s, &jobs[i], *sweep_id, added);
    if (rc == STORE_OK)
        rc = commit(s);
out:
    sqlite3_finalize(st);
    if (rc != STORE_OK) {
        rollback(s);
        *added = 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- runs */

/* Unchecked: only store_claim still uses it; bind_txt checks. */
int store_run_begin(store *s, const store_run_info *info, long *run_id)
{
    char now[32];
    sqlite3_stmt *st = NULL;
    iso_now(now);
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO runs(sweep_id, started_at, version, git, compiler, mpi, blas,"
                           " sqlite, hosts, ranks, slurm_job, command)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "prepare");
    int rc = info->sweep_id > 0 ? bind_i64(s, st, 1, info->sweep_id) : bind_null(s, st, 1);
    if (!rc && !(rc = bind_txt(s, st, 2, now)) && !(rc = bind_txt(s, st, 3, info->version)) &&
        !(rc = bind_txt(s, st, 4, info->git)) && !(rc = bind_txt(s, st, 5, info->compiler)) &&
        !(rc = bind_txt(s, st, 6, info->mpi)) && !(rc = bind_txt(s, st, 7, info->blas)) &&
        !(rc = bind_txt(s, st, 8, info->sqlite ? info->sqlite : sqlite3_libversion())) &&
        !(rc = bind_txt(s, st, 9, info->hosts)) && !(rc = bind_i64(s, st, 10, info->ranks)) &&
        !(rc = bind_txt(s, st, 11, info->slurm_job)) && !(rc = bind_txt(s, st, 12, info->command)))
        rc = step_done(s, st, "insert the run");
    sqlite3_finalize(st);
    if (rc == STORE_OK)
        *run_id = (long)sqlite3_last_insert_rowid(s->db);
    return rc;
}

int store_run_end(store *s, long run_id, int exit_code, size_t jobs_done)
{
    char now[32];
    sqlite3_stmt *st = NULL;
    iso_now(now);
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE runs SET finished_at = ?2, exit_code = ?3, jobs_done = ?4"
                           " WHERE id = ?1", -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "prepare");
    int rc;
    if (!(rc = bind_i64(s, st, 1, run_id)) && !(rc = bind_txt(s, st, 2, now)) &&
        !(rc = bind_i64(s, st, 3, exit_code)) && !(rc = bind_i64(s, st, 4, (sqlite3_int64)jobs_done)))
        rc = step_done(s, st, "close the run");
    sqlite3_finalize(st);
    if (rc == STORE_OK && sqlite3_changes(s->db) != 1)
        rc = fail(s, STORE_ERROR, "no run %ld", run_id);
    return rc;
}

/* ---------------------------------------------------------------- resume */

/* Jobs still `running` of launches that died (their runs row open, and not
 * the caller's orderly_run), grouped by launch: ?1 = orderly_run. */
#define DEAD_RUNNING "SELECT COALESCE(j.run_id, 0) AS run, min(j.id) AS id, count(*) AS n" \
    " FROM jobs j LEFT JOIN runs r ON r.id = j.run_id" \
    " WHERE j.status = 'running' AND r.finished_at IS NULL AND COALESCE(j.run_id, 0) != ?1" \
    " GROUP BY 1"

int store_recover(store *s, int max_attempts, long orderly_run, store_recovery *out)
{
    static const char *const sql[] = {
        /* the job a launch died running alone is to blame */
        "UPDATE jobs SET crashes = crashes + 1, suspect = 0,"
        " error = 'launch (run ' || COALESCE(run_id, '?') || ') died while this job ran alone'"
        " WHERE id IN (SELECT id FROM (" DEAD_RUNNING ") WHERE n = 1)",
        /* a launch that died with several jobs running blames none of them yet */
        "UPDATE jobs SET suspect = 1 WHERE status = 'running'"
        " AND COALESCE(run_id, 0) IN (SELECT run FROM (" DEAD_RUNNING ") WHERE n > 1)",
        "UPDATE jobs SET status = 'failed', finished_at = ?2,"
        " error = 'its launch died ' || crashes || ' times while it ran alone (max_attempts ' || ?3 || ')'"
        " WHERE status = 'running' AND crashes >= ?3",
        "UPDATE jobs SET status = 'pending' WHERE status = 'running'",
    };
    size_t *count[] = {&out->blamed, &out->suspects, &out->failed, &out->requeued};
    char now[32];
    memset(out, 0, sizeof *out);
    iso_now(now);
    int rc = begin(s);
    for (size_t i = 0; i < sizeof sql / sizeof sql[0] && rc == STORE_OK; i++) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(s->db, sql[i], -1, &st, NULL) != SQLITE_OK) {
            rc = sqlfail(s, "prepare the recovery");
            break;
        }
        const int np = sqlite3_bind_parameter_count(st);
        if ((np >= 1 && (rc = bind_i64(s, st, 1, orderly_run))) ||
            (np >= 2 && (rc = bind_txt(s, st, 2, now))) ||
            (np >= 3 && (rc = bind_i64(s, st, 3, max_attempts)))) {
            sqlite3_finalize(st);
            break;
        }
        rc = step_done(s, st, "recover jobs");
        if (rc == STORE_OK)
            *count[i] = (size_t)sqlite3_changes(s->db);
        sqlite3_finalize(st);
    }
    if (rc == STORE_OK)
        rc = commit(s);
    if (rc != STORE_OK) {
        rollback(s);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

int store_pending(store *s, long sweep_id, long **ids, config **cfgs, size_t *n, size_t *nsuspect)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    *ids = NULL;
    *cfgs = NULL;
    *n = *nsuspect = 0;
    const char *sql = sweep_id > 0
        ? "SELECT j.id, j.config, j.suspect FROM jobs j JOIN sweep_jobs w ON w.job_id = j.id"
          " WHERE w.sweep_id = ?1 AND j.status = 'pending' ORDER BY j.suspect DESC, j.id"
        : "SELECT id, config, suspect FROM jobs WHERE status = 'pending' ORDER BY suspect DESC, id";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "prepare");
    int rc = sweep_id > 0 ? bind_i64(s, st, 1, sweep_id) : STORE_OK, sr = SQLITE_DONE;
    while (rc == STORE_OK && (sr = step(s, st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            long *ni = realloc(*ids, cap * sizeof *ni);
            if (ni)
                *ids = ni;
            config *nc = realloc(*cfgs, cap * sizeof *nc);
            if (nc)
                *cfgs = nc;
            if (!ni || !nc) {
                rc = fail(s, STORE_ERROR, "out of memory for %zu pending jobs", cap);
                break;
            }
        }
        long id = (long)sqlite3_column_int64(st, 0);
        rc = parse_canonical(s, id, (const char *)sqlite3_column_text(st, 1), &(*cfgs)[*n]);
        (*ids)[(*n)++] = id;
        *nsuspect += sqlite3_column_int(st, 2) != 0;
    }
    if (rc == STORE_OK && sr != SQLITE_DONE)
        rc = sqlfail(s, "read the pending jobs");
    sqlite3_finalize(st);
    if (rc != STORE_OK) {
        free(*ids);
        free(*cfgs);
        *ids = NULL;
        *cfgs = NULL;
        *n = *nsuspect = 0;
    }
    return rc;
}

int store_sweep_counts(store *s, long sweep_id, size_t counts[6])
{
    sqlite3_stmt *st = NULL;
    memset(counts, 0, 6 * sizeof *counts);
    const char *sql = sweep_id > 0
        ? "SELECT j.status, count(*) FROM jobs j JOIN sweep_jobs w ON w.job_id = j.id"
          " WHERE w.sweep_id = ?1 GROUP BY j.status"
        : "SELECT status, count(*) FROM jobs GROUP BY status";
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "prepare");
    if (sweep_id > 0 && bind_i64(s, st, 1, sweep_id) != STORE_OK) {
        sqlite3_finalize(st);
        return STORE_ERROR;
    }
    int sr;
    while ((sr = step(s, st)) == SQLITE_ROW) {
        int i = status_parse((const char *)sqlite3_column_text(st, 0));
        if (i >= 0)
            counts[i] = (size_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sqlfail(s, "count the sweep's jobs");
}

/* Status name of job id, for messages ("no such job" if none). */
static const char *job_status_text(store *s, long id, char buf[32])
{
    sqlite3_stmt *st = NULL;
    snprintf(buf, 32, "no such job");
    if (sqlite3_prepare_v2(s->db, "SELECT status FROM jobs WHERE id = ?1", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_bind_int64(st, 1, id) == SQLITE_OK && step(s, st) == SQLITE_ROW)
            snprintf(buf, 32, "status %s", (const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    return buf;
}

int store_claim(store *s, long job_id, long run_id, const char *host, int rank)
{
    char now[32], why[32];
    iso_now(now);
    sqlite3_stmt *st = stmt(s, ST_CLAIM);
    if (!st)
        return STORE_ERROR;
    int rc;
    if ((rc = bind_i64(s, st, 1, job_id)) || (rc = bind_txt(s, st, 2, host)) ||
        (rc = bind_i64(s, st, 3, rank)) ||
        (rc = run_id > 0 ? bind_i64(s, st, 4, run_id) : bind_null(s, st, 4)) ||
        (rc = bind_txt(s, st, 5, now)))
        return rc;
    rc = step_done(s, st, "claim a job");
    if (rc == STORE_OK && sqlite3_changes(s->db) != 1)
        rc = fail(s, STORE_ERROR, "cannot claim job %ld: %s, not pending", job_id,
                  job_status_text(s, job_id, why));
    return rc;
}

int store_checkpoint_get(store *s, long job_id, void **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(s, ST_CKPT_GET);
    if (!st)
        return STORE_ERROR;
    if (bind_i64(s, st, 1, job_id) != STORE_OK)
        return STORE_ERROR;
    int rc = step(s, st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return STORE_OK;
    }
    if (rc != SQLITE_ROW) {
        rc = sqlfail(s, "read a checkpoint");
        sqlite3_reset(st);
        return rc;
    }
    const void *data = sqlite3_column_blob(st, 0);
    size_t len = (size_t)sqlite3_column_bytes(st, 0);
    rc = STORE_OK;
    if (len) {
        if ((*buf = malloc(len))) {
            memcpy(*buf, data, len);
            *n = len;
        } else {
            rc = fail(s, STORE_ERROR, "out of memory for a checkpoint of %zu bytes", len);
        }
    }
    sqlite3_reset(st);
    return rc;
}

/* ---------------------------------------------------------------- results */

/* Delete one job's rows with the prepared statement `id` (job id as ?1). */
static int delete_job_rows(store *s, int id, long job_id, const char *what)
{
    sqlite3_stmt *del = stmt(s, id);
    if (!del)
        return STORE_ERROR;
    if (bind_i64(s, del, 1, job_id) != STORE_OK)
        return STORE_ERROR;
    return step_done(s, del, what);
}

/* Upsert n curve rows of a job. */
static int ins_curve(store *s, long job_id, const train_curve_row *rows, size_t n)
{
    sqlite3_stmt *ins = stmt(s, ST_CURVE_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        if ((rc = bind_i64(s, ins, 1, job_id)) || (rc = bind_i64(s, ins, 2, rows[i].iter)) ||
            (rc = bind_dbl(s, ins, 3, rows[i].loss)) || (rc = bind_dbl(s, ins, 4, rows[i].accuracy)))
            break;
        rc = step_done(s, ins, "insert a curve row");
    }
    return rc;
}

/* Upsert n exponent rows of a job. */
static int ins_lyap(store *s, long job_id, const train_lyap_row *rows, size_t n)
{
    sqlite3_stmt *ins = stmt(s, ST_LYAP_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        const train_lyap_row *l = &rows[i];
        if (l->phase < PHASE_INIT || l->phase > PHASE_TRAINED)
            return fail(s, STORE_ERROR, "job %ld: exponent row with phase %d", job_id, l->phase);
        if ((rc = bind_i64(s, ins, 1, job_id)) || (rc = bind_txt(s, ins, 2, phase_names[l->phase])) ||
            (rc = bind_i64(s, ins, 3, l->iter)) || (rc = bind_i64(s, ins, 4, l->idx)) ||
            (rc = bind_dbl(s, ins, 5, l->mean)) || (rc = bind_dbl(s, ins, 6, l->sd)))
            break;
        rc = step_done(s, ins, "insert an exponent row");
    }
    return rc;
}

/* Upsert n diagnostic rows of a job. */
static int ins_diag(store *s, long job_id, const train_diag_row *rows, size_t n)
{
    sqlite3_stmt *ins = stmt(s, ST_DIAG_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        const char *name = train_diag_name(rows[i].name);
        if (!name)
            return fail(s, STORE_ERROR, "job %ld: diagnostic row with name %d", job_id, rows[i].name);
        if ((rc = bind_i64(s, ins, 1, job_id)) || (rc = bind_i64(s, ins, 2, rows[i].iter)) ||
            (rc = bind_txt(s, ins, 3, name)) || (rc = bind_dbl(s, ins, 4, rows[i].value)))
            break;
        rc = step_done(s, ins, "insert a diagnostic row");
    }
    return rc;
}

static int put_diag(store *s, const store_result *r)
{
    int rc = delete_job_rows(s, ST_DIAG_DEL, r->job_id, "delete diagnostic rows");
    return rc == STORE_OK ? ins_diag(s, r->job_id, r->diag, r->ndiag) : rc;
}

static int put_curve(store *s, const store_result *r)
{
    int rc = delete_job_rows(s, ST_CURVE_DEL, r->job_id, "delete curve rows");
    return rc == STORE_OK ? ins_curve(s, r->job_id, r->curve, r->ncurve) : rc;
}

static int put_lyap(store *s, const store_result *r)
{
    int rc = delete_job_rows(s, ST_LYAP_DEL, r->job_id, "delete exponent rows");
    return rc == STORE_OK ? ins_lyap(s, r->job_id, r->lyap, r->nlyap) : rc;
}

static int put_weights(store *s, const store_result *r)
{
    const rnn_params *p = r->weights;
    int rc = STORE_OK;
    double *swap = NULL;
    for (int t = 0; t < RNN_NTENSORS && rc == STORE_OK; t++) {
        int rows, cols;
        rnn_tensor_shape(p, t, &rows, &cols);
        size_t n = (size_t)rows * (size_t)cols;
        const double *data = rnn_tensor(p, t);
        if (!host_le() && n) {
            /* Stored little-endian whatever the host. */
            double *ns = realloc(swap, n * sizeof *ns);
            if (!ns) {
                rc = fail(s, STORE_ERROR, "out of memory");
                break;
            }
            swap = ns;
            for (size_t i = 0; i < n; i++) {
                unsigned char *d = (unsigned char *)&swap[i];
                const unsigned char *src = (const unsigned char *)&data[i];
                for (int b = 0; b < 8; b++)
                    d[b] = src[7 - b];
            }
            data = swap;
        }
        sqlite3_stmt *ins = stmt(s, ST_WEIGHT_INS);
        if (!ins) {
            rc = STORE_ERROR;
            break;
        }
        if ((rc = bind_i64(s, ins, 1, r->job_id)) || (rc = bind_txt(s, ins, 2, rnn_tensor_name(t))) ||
            (rc = bind_i64(s, ins, 3, rows)) || (rc = bind_i64(s, ins, 4, cols)) ||
            (rc = bind_blob(s, ins, 5, data, n * sizeof(double))))
            break;
        rc = step_done(s, ins, "insert weights");
    }
    free(swap);
    return rc;
}

static int put_checkpoint(store *s, const store_result *r, const char *now)
{
    if (r->status == JOB_PENDING && r->checkpoint && r->checkpoint_size) {
        sqlite3_stmt *st = stmt(s, ST_CKPT_PUT);
        if (!st)
            return STORE_ERROR;
        if (bind_i64(s, st, 1, r->job_id) ||
            (r->ncurve ? bind_i64(s, st, 2, r->curve[r->ncurve - 1].iter) : bind_null(s, st, 2)) ||
            bind_txt(s, st, 3, now) || bind_blob(s, st, 4, r->checkpoint, r->checkpoint_size))
            return STORE_ERROR;
        return step_done(s, st, "store the checkpoint");
    }
    if (r->status == JOB_PENDING)
        return STORE_OK; /* interrupted without a new checkpoint: keep the old one */
    return delete_job_rows(s, ST_CKPT_DEL, r->job_id, "delete the checkpoint");
}

int store_result_put(store *s, const store_result *r)
{
    if (r->status < JOB_PENDING || r->status > JOB_TIMEOUT || r->status == JOB_RUNNING)
        return fail(s, STORE_ERROR, "job %ld: result with status %d", r->job_id, r->status);
    char now[32], why[32];
    iso_now(now);
    int rc = begin(s);
    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *st = stmt(s, ST_RESULT);
    if (!st) {
        rc = STORE_ERROR;
        goto out;
    }
    if ((rc = bind_i64(s, st, 1, r->job_id)) || (rc = bind_txt(s, st, 2, status_names[r->status])) ||
        (rc = bind_txt(s, st, 3, r->host)) || (rc = bind_i64(s, st, 4, r->rank)) ||
        (rc = bind_txt(s, st, 5, r->status != JOB_PENDING ? now : NULL)) ||
        (rc = bind_dbl(s, st, 6, isfinite(r->wall_seconds) ? r->wall_seconds : 0)) ||
        (rc = bind_dbl(s, st, 7, r->test_loss)) || (rc = bind_dbl(s, st, 8, r->test_accuracy)) ||
        (rc = r->ncurve ? bind_i64(s, st, 9, r->curve[r->ncurve - 1].iter) : bind_null(s, st, 9)) ||
        (rc = bind_txt(s, st, 10, r->error)) || (rc = bind_i64(s, st, 11, r->status == JOB_PENDING)) ||
        (rc = bind_dbl(s, st, 12, r->val_loss)) || (rc = bind_dbl(s, st, 13, r->val_accuracy)))
        goto out;
    if ((rc = step_done(s, st, "update the job")) != STORE_OK)
        goto out;
    if (sqlite3_changes(s->db) != 1) {
        rc = fail(s, STORE_ERROR, "result for job %ld: %s", r->job_id, job_status_text(s, r->job_id, why));
        goto out;
    }
    rc = put_curve(s, r);
    if (rc == STORE_OK)
        rc = put_lyap(s, r);
    if (rc == STORE_OK)
        rc = put_diag(s, r);
    if (rc == STORE_OK && r->weights)
        rc = put_weights(s, r);
    if (rc == STORE_OK)
        rc = put_checkpoint(s, r, now);
    if (rc == STORE_OK)
        rc = commit(s);
out:
    if (rc != STORE_OK)
        rollback(s);
    return rc;
}

int store_progress(store *s, long job_id, long iters_done, const train_curve_row *curve,
                   size_t ncurve, const train_lyap_row *lyap, size_t nlyap,
                   const train_diag_row *diag, size_t ndiag)
{
    int rc = begin(s);
    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *st = stmt(s, ST_PROGRESS);
    if (!st)
        rc = STORE_ERROR;
    else if ((rc = bind_i64(s, st, 1, job_id)) == STORE_OK &&
             (rc = bind_i64(s, st, 2, iters_done)) == STORE_OK)
        rc = step_done(s, st, "record progress");
    if (rc == STORE_OK && sqlite3_changes(s->db) == 1) { /* still running: its rows count */
        rc = ins_curve(s, job_id, curve, ncurve);
        if (rc == STORE_OK)
            rc = ins_lyap(s, job_id, lyap, nlyap);
        if (rc == STORE_OK)
            rc = ins_diag(s, job_id, diag, ndiag);
    }
    if (rc == STORE_OK)
        rc = commit(s);
    if (rc != STORE_OK)
        rollback(s);
    return rc;
}

/* ---------------------------------------------------------------- readers */

int store_job_config(store *s, long job_id, config *c, int *status)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT config, status FROM jobs WHERE id = ?1", -1, &st, NULL))
        return sqlfail(s, "prepare");
    int rc = bind_i64(s, st, 1, job_id) == STORE_OK ? step(s, st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        rc = parse_canonical(s, job_id, (const char *)sqlite3_column_text(st, 0), c);
        if (status)
            *status = status_parse((const char *)sqlite3_column_text(st, 1));
    } else if (rc == SQLITE_DONE) {
        rc = fail(s, STORE_REFUSED, "no job %ld", job_id);
    } else {
        rc = sqlfail(s, "read a job");
    }
    sqlite3_finalize(st);
    return rc;
}

int store_weights_get(store *s, long job_id, rnn_params *p)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT rows, cols, data FROM weights"
                           " WHERE job_id = ?1 AND phase = 'final' AND name = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "prepare");
    int rc = STORE_OK;
    for (int t = 0; t < RNN_NTENSORS && rc == STORE_OK; t++) {
        sqlite3_reset(st);
        if ((rc = bind_i64(s, st, 1, job_id)) || (rc = bind_txt(s, st, 2, rnn_tensor_name(t))))
            break;
        int sr = step(s, st);
        if (sr == SQLITE_DONE) {
            rc = fail(s, STORE_REFUSED, "job %ld has no stored %s weights", job_id, rnn_tensor_name(t));
            break;
        }
        if (sr != SQLITE_ROW) {
            rc = sqlfail(s, "read weights");
            break;
        }
        int rows, cols;
        rnn_tensor_shape(p, t, &rows, &cols);
        size_t n = (size_t)rows * (size_t)cols;
        if (sqlite3_column_int(st, 0) != rows || sqlite3_column_int(st, 1) != cols ||
            (size_t)sqlite3_column_bytes(st, 2) != n * sizeof(double)) {
            rc = fail(s, STORE_ERROR, "job %ld: stored %s is %dx%d (%d bytes), expected %dx%d",
                      job_id, rnn_tensor_name(t), sqlite3_column_int(st, 0),
                      sqlite3_column_int(st, 1), sqlite3_column_bytes(st, 2), rows, cols);
            break;
        }
        double *dst = rnn_tensor(p, t);
        const unsigned char *src = sqlite3_column_blob(st, 2);
        if (host_le()) {
            if (n)
                memcpy(dst, src, n * sizeof(double));
        } else {
            for (size_t i = 0; i < n; i++)
                for (int b = 0; b < 8; b++)
                    ((unsigned char *)&dst[i])[b] = src[8 * i + 7 - (size_t)b];
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- status */

/* Counts of the six statuses over all jobs. */
static int status_counts(store *s, sqlite3_int64 cnt[6])
{
    sqlite3_stmt *st = NULL;
    memset(cnt, 0, 6 * sizeof *cnt);
    if (sqlite3_prepare_v2(s->db, "SELECT status, count(*) FROM jobs GROUP BY status", -1, &st, NULL))
        return sqlfail(s, "count jobs");
    int sr;
    while ((sr = step(s, st)) == SQLITE_ROW) {
        int i = status_parse((const char *)sqlite3_column_text(st, 0));
        if (i >= 0)
            cnt[i] = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sqlfail(s, "count jobs");
}

static void fmt_duration(double sec, char buf[32])
{
    if (!(sec >= 0) || sec > 1e9)
        snprintf(buf, 32, "?");
    else if (sec < 90)
        snprintf(buf, 32, "%.0f s", sec);
    else if (sec < 5400)
        snprintf(buf, 32, "%.0f min", sec / 60);
    else if (sec < 172800)
        snprintf(buf, 32, "%.1f h", sec / 3600);
    else
        snprintf(buf, 32, "%.1f days", sec / 86400);
}

/* Per-value status counts of one swept key (more than one distinct value). */
static int print_axis(store *s, FILE *f, const char *key)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    sqlite3_int64 ndist = 0;
    snprintf(sql, sizeof sql, "SELECT COUNT(DISTINCT \"%s\") FROM jobs", key);
    int rc = query_int(s, sql, &ndist);
    if (rc != STORE_OK || ndist < 2)
        return rc;
    if (ndist > 20) {
        snprintf(sql, sizeof sql, "SELECT MIN(\"%s\"), MAX(\"%s\") FROM jobs", key, key);
        if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK || step(s, st) != SQLITE_ROW) {
            sqlite3_finalize(st);
            return sqlfail(s, "read an axis");
        }
        fprintf(f, "  %-14s %lld values from %s to %s\n", key, (long long)ndist,
                (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        return STORE_OK;
    }
    snprintf(sql, sizeof sql,
             "SELECT \"%s\", status, count(*) FROM jobs GROUP BY 1, 2 ORDER BY 1", key);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "read an axis");
    fprintf(f, "  %-14s", key);
    for (int i = 0; i <= JOB_TIMEOUT; i++)
        fprintf(f, " %9s", status_names[i]);
    fputc('\n', f);
    char cur[64] = "";
    int have = 0, sr;
    sqlite3_int64 cnt[6] = {0};
    for (;;) {
        sr = step(s, st);
        const char *v = sr == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (have && (sr != SQLITE_ROW || strncmp(v ? v : "", cur, sizeof cur - 1) != 0)) {
            fprintf(f, "    %-12s", cur);
            for (int i = 0; i <= JOB_TIMEOUT; i++)
                fprintf(f, " %9lld", (long long)cnt[i]);
            fputc('\n', f);
            memset(cnt, 0, sizeof cnt);
            have = 0;
        }
        if (sr != SQLITE_ROW)
            break;
        snprintf(cur, sizeof cur, "%s", v ? v : "NULL");
        have = 1;
        int i = status_parse((const char *)sqlite3_column_text(st, 1));
        if (i >= 0)
            cnt[i] = sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sqlfail(s, "read an axis");
}

static int print_running(store *s, FILE *f)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, host, rank, attempts, started_at,"
                           " (julianday('now') - julianday(started_at)) * 86400.0"
                           " FROM jobs WHERE status = 'running' ORDER BY started_at, id LIMIT 50",
                           -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "read running jobs");
    int sr, first = 1;
    while ((sr = step(s, st)) == SQLITE_ROW) {
        char age[32];
        if (first)
            fprintf(f, "running:\n");
        first = 0;
        fmt_duration(sqlite3_column_double(st, 5), age);
        const char *host = (const char *)sqlite3_column_text(st, 1);
        const char *at = (const char *)sqlite3_column_text(st, 4);
        fprintf(f, "  job %-8lld host %-16s rank %-4d attempt %d  started %s (%s ago)\n",
                (long long)sqlite3_column_int64(st, 0), host ? host : "?", sqlite3_column_int(st, 2),
                sqlite3_column_int(st, 3), at ? at : "?", age);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sqlfail(s, "read running jobs");
}

/* Last run, and a rough ETA from the mean compute time of finished jobs. */
static int print_runs(store *s, FILE *f, sqlite3_int64 remaining)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id, sweep_id, started_at, finished_at, exit_code, jobs_done, ranks,"
                           " hosts, slurm_job, version, git,"
                           " (SELECT AVG(wall_seconds) FROM jobs WHERE status IN ('done', 'diverged'))"
                           " FROM runs ORDER BY id DESC LIMIT 1", -1, &st, NULL) != SQLITE_OK)
        return sqlfail(s, "read runs");
    int sr = step(s, st);
    if (sr == SQLITE_ROW) {
#define TXT(i) (sqlite3_column_bytes(st, i) == 0 ? "-" : (const char *)sqlite3_column_text(st, i))
        int fin = sqlite3_column_type(st, 3) != SQLITE_NULL;
        int ranks = sqlite3_column_int(st, 6);
        fprintf(f, "last run: #%lld of sweep %s, rnnsweep %s (%s), %d ranks on %s, slurm job %s\n",
                (long long)sqlite3_column_int64(st, 0), TXT(1), TXT(9), TXT(10), ranks, TXT(7), TXT(8));
        if (fin)
            fprintf(f, "  started %s, finished %s, exit %s, %s jobs done\n", TXT(2), TXT(3), TXT(4),
                    TXT(5));
        else
            fprintf(f, "  started %s, not finished (running, or killed)\n", TXT(2));
#undef TXT
        double mean = sqlite3_column_double(st, 11);
        int workers = ranks > 0 ? ranks : 1; /* rank 0 trains too */
        if (remaining > 0 && mean > 0) {
            char a[32], b[32];
            fmt_duration(mean, a);
            fmt_duration(mean * (double)remaining / workers, b);
            fprintf(f, "  mean job %s; %lld jobs left: about %s with %d rank(s) training\n", a,
                    (long long)remaining, b, workers);
        }
        sr = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sqlfail(s, "read runs");
}

int store_status_print(store *s, FILE *f)
{
    sqlite3_int64 cnt[6], total = 0, nsweeps = 0;
    /* One read transaction: a consistent snapshot while a writer goes on. */
    int rc = exec(s, "BEGIN", "begin a read");
    if (rc != STORE_OK)
        return rc;
    rc = status_counts(s, cnt);
    if (rc == STORE_OK)
        rc = query_int(s, "SELECT count(*) FROM sweeps", &nsweeps);
    if (rc == STORE_OK) {
        for (int i = 0; i < 6; i++)
            total += cnt[i];
        sqlite3_int64 finished = cnt[JOB_DONE] + cnt[JOB_DIVERGED] + cnt[JOB_FAILED] + cnt[JOB_TIMEOUT];
        fprintf(f, "%s: %lld jobs from %lld sweep file%s\n", s->path, (long long)total,
                (long long)nsweeps, nsweeps == 1 ? "" : "s");
        fprintf(f, " ");
        for (int i = 0; i <= JOB_TIMEOUT; i++)
            fprintf(f, " %s %lld", status_names[i], (long long)cnt[i]);
        fprintf(f, "\n  finished %lld of %lld (%.1f%%)\n", (long long)finished, (long long)total,
                total ? 100.0 * (double)finished / (double)total : 0.0);
        fprintf(f, "by swept key:\n");
    }
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++)
        if (s->has_col[k])
            rc = print_axis(s, f, s->keys[k].name);
    if (rc == STORE_OK)
        rc = print_running(s, f);
    if (rc == STORE_OK)
        rc = print_runs(s, f, cnt[JOB_PENDING] + cnt[JOB_RUNNING]);
    int erc = exec(s, rc == STORE_OK ? "COMMIT" : "ROLLBACK", "end the read");
    return rc != STORE_OK ? rc : erc;
}
