/* store_schema.c — the results database's schema: tables, views, migrations, checks.
 *
 * Schema version STORE_SCHEMA = 2, marked by PRAGMA application_id =
 * 0x524E5357 'RNSW' and PRAGMA user_version = 2.  The DDL in create_tables()
 * is the one description of every table and column (commented line by
 * line); view_sql() defines the views; migrate() says what each version
 * added, and a version 1 file is migrated on its first read-write open.
 * Times are ISO-8601 UTC (2024-05-01T12:00:00Z); hashes are FNV-1a 64, 16
 * hex digits.  The jobs table has one typed column per config key, named as
 * the key and generated from config_keys() (enum keys TEXT, the name;
 * integer keys INTEGER; real keys REAL; all NOT NULL); a key added to the
 * key table gets its column (ALTER TABLE ADD COLUMN with the key's default)
 * on the next read-write open, and the views are regenerated when the key
 * table changes.
 *
 * sqrt() is needed for sd_final_loss and the Wilson bounds; Debian's SQLite
 * (3.40, math functions on) has it; without it those columns are NULL.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* diagnostics: align_*, drift_* of train.h (SPEC §8); added in schema 2. */
#define DIAGNOSTICS_SQL \
    "CREATE TABLE diagnostics (job_id INTEGER NOT NULL REFERENCES jobs(id),\n" \
    "  iter INTEGER NOT NULL, name TEXT NOT NULL, value REAL,\n" \
    "  PRIMARY KEY (job_id, iter, name)) WITHOUT ROWID;\n"
/* thresholds: the per-task solve thresholds of SPEC §7, a table users may
 * edit; added in schema 2. */
#define THRESHOLDS_SQL \
    "CREATE TABLE thresholds (task TEXT PRIMARY KEY, accuracy REAL NOT NULL);\n" \
    "INSERT INTO thresholds VALUES ('romo', 0.9), ('dms', 0.9), ('2af', 0.8);\n"

/* The jobs columns that are not config keys (a key may not take their names). */
static const char *const fixed_cols[] = {"id", "config_hash", "config", "status", "attempts",
                                         "host", "rank", "run_id", "started_at", "finished_at",
                                         "wall_seconds", "final_loss", "final_accuracy",
                                         "iters_done", "error", "crashes", "suspect", "val_loss",
                                         "val_accuracy", "test_loss", "test_accuracy", NULL};
/* Leading grouping columns of the views; the other keys follow in table order. */
static const char *const lead_keys[] = {"task", "rule", "gain", "lr", "floss_iters", NULL};

static const char *col_type(int kind)
{
    return kind == CK_ENUM ? "TEXT" : kind == CK_INT ? "INTEGER" : "REAL";
}

int schema_check_keys(store *s)
{
    if (s->nkeys > MAXKEYS)
        return sq_fail(s, STORE_ERROR, "too many config keys (%zu)", s->nkeys);
    for (size_t k = 0; k < s->nkeys; k++)
        for (int i = 0; fixed_cols[i]; i++)
            if (strcmp(s->keys[k].name, fixed_cols[i]) == 0)
                return sq_fail(s, STORE_ERROR, "config key '%s' clashes with a jobs column",
                               fixed_cols[i]);
    return STORE_OK;
}

/* ---------------------------------------------------------------- tables */

static int create_tables(store *s)
{
    sbuf b = {0};
    sb_printf(&b,
              /* one row per sweep file given to `rnnsweep sweep` */
              "CREATE TABLE sweeps (id INTEGER PRIMARY KEY, path TEXT, text TEXT NOT NULL,\n"
              "  hash TEXT NOT NULL UNIQUE, added_at TEXT NOT NULL);\n" /* hash of text */
              /* one row per launch, with its provenance */
              "CREATE TABLE runs (id INTEGER PRIMARY KEY, sweep_id INTEGER REFERENCES sweeps(id),\n"
              "  started_at TEXT NOT NULL, finished_at TEXT, exit_code INTEGER, jobs_done INTEGER,\n"
              "  version TEXT, git TEXT, compiler TEXT, mpi TEXT, blas TEXT, sqlite TEXT,\n"
              "  hosts TEXT, ranks INTEGER, slurm_job TEXT, command TEXT);\n"
              /* one row per distinct config: config_hash is config_hash(), config
               * is config_canonical()'s key=value lines; then the key columns */
              "CREATE TABLE jobs (id INTEGER PRIMARY KEY,\n"
              "  config_hash TEXT NOT NULL UNIQUE, config TEXT NOT NULL,\n");
    for (size_t k = 0; k < s->nkeys; k++)
        sb_printf(&b, "  \"%s\" %s NOT NULL,\n", s->keys[k].name, col_type(s->keys[k].kind));
    sb_printf(&b,
              "  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN"
              " ('pending', 'running', 'done', 'diverged', 'failed', 'timeout')),\n"
              /* attempts: launches that claimed it (an interrupted, checkpointed
               * attempt is given back); host, rank, run_id, started_at: where and
               * since when the last attempt ran (started_at: its claim) */
              "  attempts INTEGER NOT NULL DEFAULT 0, host TEXT, rank INTEGER,\n"
              "  run_id INTEGER REFERENCES runs(id), started_at TEXT, finished_at TEXT,\n"
              /* wall_seconds: compute time summed over attempts; final_loss,
               * final_accuracy = test_* (for a schema-1 job: one evaluation
               * batch), NULL when unknown or not finite; iters_done: while
               * running, the iterations done (from the claim: the checkpoint's
               * iteration or NULL; then live, every --flush seconds), once
               * finished or interrupted the iteration of the last curve row */
              "  wall_seconds REAL, final_loss REAL, final_accuracy REAL, iters_done INTEGER,\n"
              /* crashes: launch deaths blamed on it (store_recover); suspect: 1
               * if it was running when a launch with other jobs died (it runs
               * alone next) */
              "  error TEXT, crashes INTEGER NOT NULL DEFAULT 0,"
              " suspect INTEGER NOT NULL DEFAULT 0,\n"
              /* validation trials (SPEC §7: lr choice), test trials (reported) */
              "  val_loss REAL, val_accuracy REAL, test_loss REAL, test_accuracy REAL);\n"
              THRESHOLDS_SQL DIAGNOSTICS_SQL
              "CREATE INDEX jobs_status ON jobs(status);\n"
              /* which sweep files list which jobs */
              "CREATE TABLE sweep_jobs (sweep_id INTEGER NOT NULL REFERENCES sweeps(id),\n"
              "  job_id INTEGER NOT NULL REFERENCES jobs(id), PRIMARY KEY (sweep_id, job_id))"
              " WITHOUT ROWID;\n"
              /* learning curves: every log_every iterations, and the last */
              "CREATE TABLE curves (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  iter INTEGER NOT NULL, loss REAL, accuracy REAL, PRIMARY KEY (job_id, iter))"
              " WITHOUT ROWID;\n"
              /* Lyapunov exponents: mean (value) and sd over the batch, nats/step */
              "CREATE TABLE lyapunov (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  phase TEXT NOT NULL CHECK (phase IN ('init', 'floss', 'train', 'trained')),\n"
              "  iter INTEGER NOT NULL, idx INTEGER NOT NULL, value REAL, sd REAL,\n"
              "  PRIMARY KEY (job_id, phase, iter, idx)) WITHOUT ROWID;\n"
              /* final weights (phase 'final'): W_in, W_rec, b, W_out, b_out as
               * rows*cols float64, little-endian, row-major */
              "CREATE TABLE weights (job_id INTEGER NOT NULL REFERENCES jobs(id),\n"
              "  phase TEXT NOT NULL, name TEXT NOT NULL, rows INTEGER NOT NULL,\n"
              "  cols INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (job_id, phase, name));\n"
              /* an interrupted job's train_checkpoint_save image; iter is its
               * last curve row's iteration */
              "CREATE TABLE checkpoints (job_id INTEGER PRIMARY KEY REFERENCES jobs(id),\n"
              "  iter INTEGER, saved_at TEXT NOT NULL, data BLOB NOT NULL);\n"
              "PRAGMA application_id = %d;\n"
              "PRAGMA user_version = %d;\n",
              STORE_APP_ID, STORE_SCHEMA);
    int rc = b.oom ? sq_fail(s, STORE_ERROR, "out of memory") : sq_exec(s, b.p, "create the schema");
    free(b.p);
    return rc;
}

int schema_scan_columns(store *s)
{
    memset(s->has_col, 0, sizeof s->has_col);
    sqlite3_stmt *st = sq_stmt(s, ST_JOB_COLUMNS);
    if (!st)
        return STORE_ERROR;
    int rc;
    while ((rc = sq_step(s, st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        for (size_t k = 0; k < s->nkeys && name; k++)
            if (strcmp(s->keys[k].name, name) == 0)
                s->has_col[k] = 1;
    }
    rc = rc == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "read the jobs columns");
    sqlite3_reset(st);
    return rc;
}

/* ---------------------------------------------------------------- views */

static int is_lead(const char *name)
{
    for (int i = 0; lead_keys[i]; i++)
        if (strcmp(lead_keys[i], name) == 0)
            return 1;
    return 0;
}

/* G, the views' grouping columns, comma-separated and quoted: task, rule,
 * gain, lr, floss_iters, then every other key in key-table order; never
 * seed; lr unless without_lr. */
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

/* The three views as CREATE VIEW statements: out[VIEW_SUMMARY],
 * out[VIEW_BEST], out[VIEW_SUCCESS] (malloc'ed).  Plain SQL, readable by the
 * sqlite3 CLI and pandas without this code:
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
        return sq_fail(s, STORE_ERROR, "out of memory");
    }
    for (int i = 0; i < NVIEWS; i++)
        out[i] = v[i].p;
    return STORE_OK;
}

/* Whether view i is stored with exactly the text sql; STORE_OK or STORE_ERROR. */
static int view_same(store *s, int i, const char *sql, int *same)
{
    sqlite3_stmt *st = sq_stmt(s, ST_VIEW_SQL);
    if (!st || sq_bind_txt(s, st, 1, view_names[i]) != STORE_OK)
        return STORE_ERROR;
    int sr = sq_step(s, st), rc = STORE_OK;
    *same = sr == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), sql) == 0;
    if (sr != SQLITE_ROW && sr != SQLITE_DONE)
        rc = sq_sqlfail(s, "read the views");
    sqlite3_reset(st);
    return rc;
}

/* Columns for keys added to the key table since the file was made, and
 * views matching the current key table (replaced only when they differ). */
static int update_schema(store *s)
{
    int rc = schema_scan_columns(s);
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++) {
        if (s->has_col[k])
            continue;
        char sql[512];
        const config_key *key = &s->keys[k];
        snprintf(sql, sizeof sql, "ALTER TABLE jobs ADD COLUMN \"%s\" %s NOT NULL DEFAULT %s%s%s",
                 key->name, col_type(key->kind), key->kind == CK_ENUM ? "'" : "", key->deflt,
                 key->kind == CK_ENUM ? "'" : "");
        rc = sq_exec(s, sql, "add a column for a new config key");
        s->has_col[k] = rc == STORE_OK;
    }
    if (rc != STORE_OK)
        return rc;
    sqlite3_int64 v;
    int has_sqrt = sq_query_int(s, "SELECT sqrt(4)", &v) == STORE_OK;
    char *sql[NVIEWS] = {0};
    if ((rc = view_sql(s, has_sqrt, sql)) != STORE_OK)
        return rc;
    /* Replaced only when one differs: a reader's file stays untouched. */
    int same = 1;
    for (int i = 0; i < NVIEWS && same && rc == STORE_OK; i++)
        rc = view_same(s, i, sql[i], &same);
    for (int i = NVIEWS - 1; i >= 0 && !same && rc == STORE_OK; i--) {
        char drop[64];
        snprintf(drop, sizeof drop, "DROP VIEW IF EXISTS %s", view_names[i]);
        rc = sq_exec(s, drop, "drop a view");
    }
    for (int i = 0; i < NVIEWS && !same && rc == STORE_OK; i++)
        rc = sq_exec(s, sql[i], "create a view");
    for (int i = 0; i < NVIEWS; i++)
        free(sql[i]);
    return rc;
}

/* ---------------------------------------------------------------- versions */

/* Bring a schema `ver` database to STORE_SCHEMA, inside schema_init's
 * transaction (so a failed migration leaves the file as it was).
 *   1 -> 2: jobs.crashes and jobs.suspect, both 0 for old rows, which is
 *           what they would have been; jobs.val_loss, val_accuracy,
 *           test_loss, test_accuracy, NULL for old rows (they were measured
 *           on one evaluation batch, kept in final_*); the thresholds and
 *           diagnostics tables.  Old rows keep every value. */
static int migrate(store *s, int ver)
{
    int rc = STORE_OK;
    if (ver < 2)
        rc = sq_exec(s, "ALTER TABLE jobs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0;"
                        "ALTER TABLE jobs ADD COLUMN suspect INTEGER NOT NULL DEFAULT 0;"
                        "ALTER TABLE jobs ADD COLUMN val_loss REAL;"
                        "ALTER TABLE jobs ADD COLUMN val_accuracy REAL;"
                        "ALTER TABLE jobs ADD COLUMN test_loss REAL;"
                        "ALTER TABLE jobs ADD COLUMN test_accuracy REAL;" THRESHOLDS_SQL DIAGNOSTICS_SQL,
                     "migrate schema 1 to 2");
    if (rc == STORE_OK) {
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", STORE_SCHEMA);
        rc = sq_exec(s, sql, "set the schema version");
    }
    return rc;
}

int schema_init(store *s)
{
    sqlite3_int64 app, ver, ntab;
    int rc = sq_begin(s);
    if (rc == STORE_OK)
        rc = sq_query_int(s, "PRAGMA application_id", &app);
    if (rc == STORE_OK)
        rc = sq_query_int(s, "PRAGMA user_version", &ver);
    if (rc == STORE_OK)
        rc = sq_query_int(s, "SELECT count(*) FROM sqlite_master", &ntab);
    if (rc == STORE_OK) {
        if (app == 0 && ntab == 0 && ver == 0)
            rc = create_tables(s);
        else if (app != STORE_APP_ID)
            rc = sq_fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x)",
                         (unsigned)app);
        else if (ver > STORE_SCHEMA)
            rc = sq_fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)",
                         (int)ver, STORE_SCHEMA);
        else if (ver < STORE_SCHEMA)
            rc = migrate(s, (int)ver);
    }
    if (rc == STORE_OK)
        rc = update_schema(s);
    if (rc == STORE_OK)
        rc = sq_commit(s);
    if (rc != STORE_OK)
        sq_rollback(s);
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

/* STORE_REFUSED if `have` (' a b c ', a table's columns) lacks one of the
 * space-separated names in `want`. */
static int check_columns(store *s, const char *table, const char *have, const char *want)
{
    for (const char *c = want; *c;) {
        size_t n = strcspn(c, " ");
        char col[40];
        snprintf(col, sizeof col, " %.*s ", (int)n, c);
        if (!strstr(have, col))
            return sq_fail(s, STORE_REFUSED, "damaged schema: column %s.%.*s is missing"
                           " (restore the file from a copy)", table, (int)n, c);
        c += n + (c[n] == ' ');
    }
    return STORE_OK;
}

int schema_check(store *s)
{
    sqlite3_stmt *st = sq_stmt(s, ST_TABLE_COLUMNS);
    if (!st)
        return STORE_ERROR;
    int rc = STORE_OK;
    size_t nt = sizeof required_schema / sizeof required_schema[0];
    for (size_t t = 0; t < nt && rc == STORE_OK; t++) {
        const char *table = required_schema[t][0];
        sqlite3_reset(st);
        if ((rc = sq_bind_txt(s, st, 1, table)) != STORE_OK)
            break;
        int sr = sq_step(s, st);
        const char *have = sr == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
        if (sr != SQLITE_ROW)
            rc = sq_sqlfail(s, "read the schema");
        else if (!have)
            rc = sq_fail(s, STORE_REFUSED, "damaged schema: table '%s' is missing (restore the"
                         " file from a copy)", table);
        else
            rc = check_columns(s, table, have, required_schema[t][1]);
    }
    sqlite3_reset(st);
    return rc;
}
