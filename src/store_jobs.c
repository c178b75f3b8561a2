/* store_jobs.c — the store's rows: sweeps, runs, jobs, claims, results, progress, resume.
 *
 * Everything rank 0 writes while a sweep runs, and the readers of single
 * jobs (dump, export).  Each write is one transaction: a sweep file with all
 * its jobs, a claim, a result (the job row, its curve, exponent and
 * diagnostic rows, final weights, the checkpoint), a progress message, a
 * recovery.  Every statement is an entry of the statement table
 * (store_sql.c), prepared once per store.  Weights are stored little-endian
 * whatever the host.
 */
#include "store_int.h"
#include "rnnsweep/clock.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {"pending", "running", "done", "diverged", "failed",
                                           "timeout"};

const char *store_status_name(int status)
{
    return status >= 0 && status < JOB_NSTATUS ? status_names[status] : NULL;
}

int job_status_parse(const char *name)
{
    for (int i = 0; i < JOB_NSTATUS; i++)
        if (name && strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
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

/* A stored config back into c (config_parse_canonical). */
static int parse_stored(store *s, long job_id, const char *text, config *c)
{
    char err[CONFIG_ERRLEN];
    if (config_parse_canonical(text, c, err) != 0)
        return sq_fail(s, STORE_ERROR, "job %ld: stored config %s", job_id, err);
    return STORE_OK;
}

/* ---------------------------------------------------------------- sweeps and jobs */

/* Bind key k of c to parameter i of st (typed column); STORE_OK or STORE_ERROR. */
static int bind_key(store *s, sqlite3_stmt *st, int i, int k, const config *c)
{
    const config_key *key = &s->keys[k];
    const config_value v = config_value_get(c, k);
    switch (key->kind) {
    case CK_ENUM: return sq_bind_txt(s, st, i, key->choices[v.i]);
    case CK_INT: return sq_bind_i64(s, st, i, v.l);
    default: return sq_bind_dbl(s, st, i, v.d);
    }
}

/* The id of the job stored under hash hex, checking that it stands for the
 * canonical text `text`. */
static int lookup_job(store *s, const char *hex, const char *text, long *id)
{
    sqlite3_stmt *q = sq_stmt(s, ST_JOB_LOOKUP);
    if (!q || sq_bind_txt(s, q, 1, hex) != STORE_OK)
        return STORE_ERROR;
    if (sq_step(s, q) != SQLITE_ROW) {
        int rc = sq_sqlfail(s, "look up a job");
        sqlite3_reset(q);
        return rc;
    }
    *id = (long)sqlite3_column_int64(q, 0);
    const char *stored = (const char *)sqlite3_column_text(q, 1);
    int same = stored && strcmp(stored, text) == 0;
    sqlite3_reset(q);
    if (!same)
        return sq_fail(s, STORE_ERROR, "config hash %s of job %ld stands for another config", hex,
                       *id);
    return STORE_OK;
}

/* Insert (or find) the job of config c; *added += 1 if new; link it to the sweep. */
static int add_job(store *s, const config *c, long sweep_id, size_t *added)
{
    char text[4096], hex[17];
    size_t len = config_canonical(c, text, sizeof text);
    if (len >= sizeof text)
        return sq_fail(s, STORE_ERROR, "canonical config longer than %zu bytes", sizeof text);
    hash_hex(config_hash(c), hex);
    sqlite3_stmt *ins = sq_stmt(s, ST_JOB_INSERT);
    if (!ins)
        return STORE_ERROR;
    int rc = sq_bind_txt(s, ins, 1, hex);
    if (rc == STORE_OK)
        rc = sq_bind_txt(s, ins, 2, text);
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++)
        if (s->has_col[k])
            rc = bind_key(s, ins, (int)k + 3, (int)k, c);
    if (rc == STORE_OK)
        rc = sq_done(s, ins, "insert a job");
    if (rc != STORE_OK)
        return rc;
    long id = 0;
    if (sqlite3_changes(s->db) == 1) {
        ++*added;
        id = (long)sqlite3_last_insert_rowid(s->db);
    } else if ((rc = lookup_job(s, hex, text, &id)) != STORE_OK) {
        return rc;
    }
    sqlite3_stmt *link = sq_stmt(s, ST_LINK);
    if (!link)
        return STORE_ERROR;
    if (sq_bind_i64(s, link, 1, sweep_id) || sq_bind_i64(s, link, 2, id))
        return STORE_ERROR;
    return sq_done(s, link, "link a job to its sweep");
}

/* Insert (or find) the sweeps row of text with hash hex; its id in *id. */
static int add_sweep_row(store *s, const char *path, const char *text, const char *hex, long *id)
{
    char now[32];
    clock_iso_now(now);
    sqlite3_stmt *st = sq_stmt(s, ST_SWEEP_INSERT);
    if (!st || sq_bind_txt(s, st, 1, path) || sq_bind_txt(s, st, 2, text) ||
        sq_bind_txt(s, st, 3, hex) || sq_bind_txt(s, st, 4, now) ||
        sq_done(s, st, "insert the sweep") != STORE_OK)
        return STORE_ERROR;
    if (!(st = sq_stmt(s, ST_SWEEP_LOOKUP)) || sq_bind_txt(s, st, 1, hex) != STORE_OK)
        return STORE_ERROR;
    int rc = STORE_OK;
    if (sq_step(s, st) == SQLITE_ROW)
        *id = (long)sqlite3_column_int64(st, 0);
    else
        rc = sq_sqlfail(s, "look up the sweep");
    sqlite3_reset(st);
    return rc;
}

int store_add_sweep(store *s, const char *path, const char *text, uint64_t hash,
                    const config *jobs, size_t n, long *sweep_id, size_t *added)
{
    char hex[17];
    *added = 0;
    *sweep_id = 0;
    hash_hex(hash, hex);
    int rc = sq_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = add_sweep_row(s, path, text, hex, sweep_id);
    for (size_t i = 0; i < n && rc == STORE_OK; i++)
        rc = add_job(s, &jobs[i], *sweep_id, added);
    if (rc == STORE_OK)
        rc = sq_commit(s);
    if (rc != STORE_OK) {
        sq_rollback(s);
        *added = 0;
    }
    return rc;
}

/* ---------------------------------------------------------------- runs */

int store_run_begin(store *s, const store_run_info *info, long *run_id)
{
    char now[32];
    clock_iso_now(now);
    sqlite3_stmt *st = sq_stmt(s, ST_RUN_BEGIN);
    if (!st)
        return STORE_ERROR;
    int rc = info->sweep_id > 0 ? sq_bind_i64(s, st, 1, info->sweep_id) : sq_bind_null(s, st, 1);
    if (!rc && !(rc = sq_bind_txt(s, st, 2, now)) && !(rc = sq_bind_txt(s, st, 3, info->version)) &&
        !(rc = sq_bind_txt(s, st, 4, info->git)) && !(rc = sq_bind_txt(s, st, 5, info->compiler)) &&
        !(rc = sq_bind_txt(s, st, 6, info->mpi)) && !(rc = sq_bind_txt(s, st, 7, info->blas)) &&
        !(rc = sq_bind_txt(s, st, 8, info->sqlite ? info->sqlite : sqlite3_libversion())) &&
        !(rc = sq_bind_txt(s, st, 9, info->hosts)) && !(rc = sq_bind_i64(s, st, 10, info->ranks)) &&
        !(rc = sq_bind_txt(s, st, 11, info->slurm_job)) &&
        !(rc = sq_bind_txt(s, st, 12, info->command)))
        rc = sq_done(s, st, "insert the run");
    if (rc == STORE_OK)
        *run_id = (long)sqlite3_last_insert_rowid(s->db);
    return rc;
}

int store_run_end(store *s, long run_id, int exit_code, size_t jobs_done)
{
    char now[32];
    clock_iso_now(now);
    sqlite3_stmt *st = sq_stmt(s, ST_RUN_END);
    if (!st)
        return STORE_ERROR;
    int rc;
    if (!(rc = sq_bind_i64(s, st, 1, run_id)) && !(rc = sq_bind_txt(s, st, 2, now)) &&
        !(rc = sq_bind_i64(s, st, 3, exit_code)) &&
        !(rc = sq_bind_i64(s, st, 4, (sqlite3_int64)jobs_done)))
        rc = sq_done(s, st, "close the run");
    if (rc == STORE_OK && sqlite3_changes(s->db) != 1)
        rc = sq_fail(s, STORE_ERROR, "no run %ld", run_id);
    return rc;
}

/* ---------------------------------------------------------------- resume */

int store_recover(store *s, int max_attempts, store_recovery *out)
{
    static const int steps[] = {ST_RECOVER_BLAME, ST_RECOVER_SUSPECT, ST_RECOVER_FAIL,
                                ST_RECOVER_REQUEUE};
    size_t *count[] = {&out->blamed, &out->suspects, &out->failed, &out->requeued};
    char now[32];
    memset(out, 0, sizeof *out);
    clock_iso_now(now);
    int rc = sq_begin(s);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0] && rc == STORE_OK; i++) {
        sqlite3_stmt *st = sq_stmt(s, steps[i]);
        if (!st) {
            rc = STORE_ERROR;
            break;
        }
        const int np = sqlite3_bind_parameter_count(st);
        if ((np >= 1 && (rc = sq_bind_txt(s, st, 1, now))) ||
            (np >= 2 && (rc = sq_bind_i64(s, st, 2, max_attempts))))
            break;
        rc = sq_done(s, st, "recover jobs");
        if (rc == STORE_OK)
            *count[i] = (size_t)sqlite3_changes(s->db);
    }
    if (rc == STORE_OK)
        rc = sq_commit(s);
    if (rc != STORE_OK) {
        sq_rollback(s);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

/* Append a row to the growing arrays of store_pending. */
static int grow_pending(store *s, long **ids, config **cfgs, size_t n, size_t *cap)
{
    if (n < *cap)
        return STORE_OK;
    size_t nc = *cap ? 2 * *cap : 64;
    long *ni = realloc(*ids, nc * sizeof *ni);
    if (ni)
        *ids = ni;
    config *ncf = realloc(*cfgs, nc * sizeof *ncf);
    if (ncf)
        *cfgs = ncf;
    if (!ni || !ncf)
        return sq_fail(s, STORE_ERROR, "out of memory for %zu pending jobs", nc);
    *cap = nc;
    return STORE_OK;
}

int store_pending(store *s, long sweep_id, long **ids, config **cfgs, size_t *n, size_t *nsuspect)
{
    size_t cap = 0;
    *ids = NULL;
    *cfgs = NULL;
    *n = *nsuspect = 0;
    sqlite3_stmt *st = sq_stmt(s, sweep_id > 0 ? ST_PENDING_SWEEP : ST_PENDING_ALL);
    if (!st)
        return STORE_ERROR;
    int rc = sweep_id > 0 ? sq_bind_i64(s, st, 1, sweep_id) : STORE_OK, sr = SQLITE_DONE;
    while (rc == STORE_OK && (sr = sq_step(s, st)) == SQLITE_ROW) {
        if ((rc = grow_pending(s, ids, cfgs, *n, &cap)) != STORE_OK)
            break;
        long id = (long)sqlite3_column_int64(st, 0);
        rc = parse_stored(s, id, (const char *)sqlite3_column_text(st, 1), &(*cfgs)[*n]);
        (*ids)[(*n)++] = id;
        *nsuspect += sqlite3_column_int(st, 2) != 0;
    }
    if (rc == STORE_OK && sr != SQLITE_DONE)
        rc = sq_sqlfail(s, "read the pending jobs");
    sqlite3_reset(st);
    if (rc != STORE_OK) {
        free(*ids);
        free(*cfgs);
        *ids = NULL;
        *cfgs = NULL;
        *n = *nsuspect = 0;
    }
    return rc;
}

int store_sweep_counts(store *s, long sweep_id, size_t counts[JOB_NSTATUS])
{
    memset(counts, 0, JOB_NSTATUS * sizeof *counts);
    sqlite3_stmt *st = sq_stmt(s, sweep_id > 0 ? ST_COUNTS_SWEEP : ST_COUNTS_ALL);
    if (!st || (sweep_id > 0 && sq_bind_i64(s, st, 1, sweep_id) != STORE_OK))
        return STORE_ERROR;
    int sr;
    while ((sr = sq_step(s, st)) == SQLITE_ROW) {
        int i = job_status_parse((const char *)sqlite3_column_text(st, 0));
        if (i >= 0)
            counts[i] = (size_t)sqlite3_column_int64(st, 1);
    }
    int rc = sr == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "count the sweep's jobs");
    sqlite3_reset(st);
    return rc;
}

/* Status name of job id, for messages ("no such job" if none); keeps s->err. */
static const char *job_status_text(store *s, long id, char buf[32])
{
    char keep[STORE_ERRLEN];
    memcpy(keep, s->err, sizeof keep);
    snprintf(buf, 32, "no such job");
    sqlite3_stmt *st = sq_stmt(s, ST_JOB_STATUS);
    if (st && sqlite3_bind_int64(st, 1, id) == SQLITE_OK && sq_step(s, st) == SQLITE_ROW)
        snprintf(buf, 32, "status %s", (const char *)sqlite3_column_text(st, 0));
    if (st)
        sqlite3_reset(st);
    memcpy(s->err, keep, sizeof keep);
    return buf;
}

int store_claim(store *s, long job_id, long run_id, const char *host, int rank)
{
    char now[32], why[32];
    clock_iso_now(now);
    sqlite3_stmt *st = sq_stmt(s, ST_CLAIM);
    if (!st)
        return STORE_ERROR;
    int rc;
    if ((rc = sq_bind_i64(s, st, 1, job_id)) || (rc = sq_bind_txt(s, st, 2, host)) ||
        (rc = sq_bind_i64(s, st, 3, rank)) ||
        (rc = run_id > 0 ? sq_bind_i64(s, st, 4, run_id) : sq_bind_null(s, st, 4)) ||
        (rc = sq_bind_txt(s, st, 5, now)))
        return rc;
    rc = sq_done(s, st, "claim a job");
    if (rc == STORE_OK && sqlite3_changes(s->db) != 1)
        rc = sq_fail(s, STORE_ERROR, "cannot claim job %ld: %s, not pending", job_id,
                     job_status_text(s, job_id, why));
    return rc;
}

int store_checkpoint_get(store *s, long job_id, void **buf, size_t *n)
{
    *buf = NULL;
    *n = 0;
    sqlite3_stmt *st = sq_stmt(s, ST_CKPT_GET);
    if (!st || sq_bind_i64(s, st, 1, job_id) != STORE_OK)
        return STORE_ERROR;
    int rc = sq_step(s, st);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(st);
        return STORE_OK;
    }
    if (rc != SQLITE_ROW) {
        rc = sq_sqlfail(s, "read a checkpoint");
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
            rc = sq_fail(s, STORE_ERROR, "out of memory for a checkpoint of %zu bytes", len);
        }
    }
    sqlite3_reset(st);
    return rc;
}

/* ---------------------------------------------------------------- results */

/* Delete one job's rows with the cached statement `id` (job id as ?1). */
static int delete_job_rows(store *s, int id, long job_id, const char *what)
{
    sqlite3_stmt *del = sq_stmt(s, id);
    if (!del || sq_bind_i64(s, del, 1, job_id) != STORE_OK)
        return STORE_ERROR;
    return sq_done(s, del, what);
}

/* Upsert n curve rows of a job. */
static int ins_curve(store *s, long job_id, const train_curve_row *rows, size_t n)
{
    sqlite3_stmt *ins = sq_stmt(s, ST_CURVE_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        if ((rc = sq_bind_i64(s, ins, 1, job_id)) || (rc = sq_bind_i64(s, ins, 2, rows[i].iter)) ||
            (rc = sq_bind_dbl(s, ins, 3, rows[i].loss)) ||
            (rc = sq_bind_dbl(s, ins, 4, rows[i].accuracy)))
            break;
        rc = sq_done(s, ins, "insert a curve row");
    }
    return rc;
}

/* Upsert n exponent rows of a job. */
static int ins_lyap(store *s, long job_id, const train_lyap_row *rows, size_t n)
{
    sqlite3_stmt *ins = sq_stmt(s, ST_LYAP_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        const train_lyap_row *l = &rows[i];
        if (l->phase < PHASE_INIT || l->phase > PHASE_TRAINED)
            return sq_fail(s, STORE_ERROR, "job %ld: exponent row with phase %d", job_id, l->phase);
        if ((rc = sq_bind_i64(s, ins, 1, job_id)) ||
            (rc = sq_bind_txt(s, ins, 2, train_phase_name(l->phase))) ||
            (rc = sq_bind_i64(s, ins, 3, l->iter)) || (rc = sq_bind_i64(s, ins, 4, l->idx)) ||
            (rc = sq_bind_dbl(s, ins, 5, l->mean)) || (rc = sq_bind_dbl(s, ins, 6, l->sd)))
            break;
        rc = sq_done(s, ins, "insert an exponent row");
    }
    return rc;
}

/* Upsert n diagnostic rows of a job. */
static int ins_diag(store *s, long job_id, const train_diag_row *rows, size_t n)
{
    sqlite3_stmt *ins = sq_stmt(s, ST_DIAG_INS);
    int rc = ins ? STORE_OK : STORE_ERROR;
    for (size_t i = 0; i < n && rc == STORE_OK; i++) {
        const char *name = train_diag_name(rows[i].name);
        if (!name)
            return sq_fail(s, STORE_ERROR, "job %ld: diagnostic row with name %d", job_id,
                           rows[i].name);
        if ((rc = sq_bind_i64(s, ins, 1, job_id)) || (rc = sq_bind_i64(s, ins, 2, rows[i].iter)) ||
            (rc = sq_bind_txt(s, ins, 3, name)) || (rc = sq_bind_dbl(s, ins, 4, rows[i].value)))
            break;
        rc = sq_done(s, ins, "insert a diagnostic row");
    }
    return rc;
}

/* A result's curve, exponent and diagnostic rows, replacing the job's. */
static int put_rows(store *s, const store_result *r)
{
    int rc = delete_job_rows(s, ST_CURVE_DEL, r->job_id, "delete curve rows");
    if (rc == STORE_OK)
        rc = ins_curve(s, r->job_id, r->curve, r->ncurve);
    if (rc == STORE_OK)
        rc = delete_job_rows(s, ST_LYAP_DEL, r->job_id, "delete exponent rows");
    if (rc == STORE_OK)
        rc = ins_lyap(s, r->job_id, r->lyap, r->nlyap);
    if (rc == STORE_OK)
        rc = delete_job_rows(s, ST_DIAG_DEL, r->job_id, "delete diagnostic rows");
    if (rc == STORE_OK)
        rc = ins_diag(s, r->job_id, r->diag, r->ndiag);
    return rc;
}

/* n doubles reversed byte by byte into dst (n), for a big-endian host. */
static void swap_bytes(double *dst, const void *src, size_t n)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 8; b++)
            ((unsigned char *)&dst[i])[b] = p[8 * i + 7 - (size_t)b];
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
            double *ns = realloc(swap, n * sizeof *ns);
            if (!ns) {
                rc = sq_fail(s, STORE_ERROR, "out of memory");
                break;
            }
            swap_bytes(swap = ns, data, n);
            data = swap;
        }
        sqlite3_stmt *ins = sq_stmt(s, ST_WEIGHT_INS);
        if (!ins) {
            rc = STORE_ERROR;
            break;
        }
        if ((rc = sq_bind_i64(s, ins, 1, r->job_id)) ||
            (rc = sq_bind_txt(s, ins, 2, rnn_tensor_name(t))) ||
            (rc = sq_bind_i64(s, ins, 3, rows)) || (rc = sq_bind_i64(s, ins, 4, cols)) ||
            (rc = sq_bind_blob(s, ins, 5, data, n * sizeof(double))))
            break;
        rc = sq_done(s, ins, "insert weights");
    }
    free(swap);
    return rc;
}

static int put_checkpoint(store *s, const store_result *r, const char *now)
{
    if (r->status == JOB_PENDING && r->checkpoint && r->checkpoint_size) {
        sqlite3_stmt *st = sq_stmt(s, ST_CKPT_PUT);
        if (!st)
            return STORE_ERROR;
        if (sq_bind_i64(s, st, 1, r->job_id) ||
            (r->ncurve ? sq_bind_i64(s, st, 2, r->curve[r->ncurve - 1].iter) : sq_bind_null(s, st, 2)) ||
            sq_bind_txt(s, st, 3, now) || sq_bind_blob(s, st, 4, r->checkpoint, r->checkpoint_size))
            return STORE_ERROR;
        return sq_done(s, st, "store the checkpoint");
    }
    if (r->status == JOB_PENDING)
        return STORE_OK; /* interrupted without a new checkpoint: keep the old one */
    return delete_job_rows(s, ST_CKPT_DEL, r->job_id, "delete the checkpoint");
}

/* The job row of a result. */
static int put_job_row(store *s, const store_result *r, const char *now)
{
    char why[32];
    sqlite3_stmt *st = sq_stmt(s, ST_RESULT);
    if (!st)
        return STORE_ERROR;
    int rc;
    if ((rc = sq_bind_i64(s, st, 1, r->job_id)) ||
        (rc = sq_bind_txt(s, st, 2, status_names[r->status])) ||
        (rc = sq_bind_txt(s, st, 3, r->host)) || (rc = sq_bind_i64(s, st, 4, r->rank)) ||
        (rc = sq_bind_txt(s, st, 5, r->status != JOB_PENDING ? now : NULL)) ||
        (rc = sq_bind_dbl(s, st, 6, isfinite(r->wall_seconds) ? r->wall_seconds : 0)) ||
        (rc = sq_bind_dbl(s, st, 7, r->test_loss)) || (rc = sq_bind_dbl(s, st, 8, r->test_accuracy)) ||
        (rc = r->ncurve ? sq_bind_i64(s, st, 9, r->curve[r->ncurve - 1].iter) : sq_bind_null(s, st, 9)) ||
        (rc = sq_bind_txt(s, st, 10, r->error)) ||
        (rc = sq_bind_i64(s, st, 11, r->status == JOB_PENDING)) ||
        (rc = sq_bind_dbl(s, st, 12, r->val_loss)) || (rc = sq_bind_dbl(s, st, 13, r->val_accuracy)))
        return rc;
    if ((rc = sq_done(s, st, "update the job")) != STORE_OK)
        return rc;
    if (sqlite3_changes(s->db) != 1)
        return sq_fail(s, STORE_ERROR, "result for job %ld: %s", r->job_id,
                       job_status_text(s, r->job_id, why));
    return STORE_OK;
}

int store_result_put(store *s, const store_result *r)
{
    if (r->status < JOB_PENDING || r->status > JOB_TIMEOUT || r->status == JOB_RUNNING)
        return sq_fail(s, STORE_ERROR, "job %ld: result with status %d", r->job_id, r->status);
    char now[32];
    clock_iso_now(now);
    int rc = sq_begin(s);
    if (rc != STORE_OK)
        return rc;
    rc = put_job_row(s, r, now);
    if (rc == STORE_OK)
        rc = put_rows(s, r);
    if (rc == STORE_OK && r->weights)
        rc = put_weights(s, r);
    if (rc == STORE_OK)
        rc = put_checkpoint(s, r, now);
    if (rc == STORE_OK)
        rc = sq_commit(s);
    if (rc != STORE_OK)
        sq_rollback(s);
    return rc;
}

int store_progress(store *s, long job_id, long iters_done, const train_curve_row *curve,
                   size_t ncurve, const train_lyap_row *lyap, size_t nlyap,
                   const train_diag_row *diag, size_t ndiag)
{
    int rc = sq_begin(s);
    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *st = sq_stmt(s, ST_PROGRESS);
    if (!st)
        rc = STORE_ERROR;
    else if ((rc = sq_bind_i64(s, st, 1, job_id)) == STORE_OK &&
             (rc = sq_bind_i64(s, st, 2, iters_done)) == STORE_OK)
        rc = sq_done(s, st, "record progress");
    if (rc == STORE_OK && sqlite3_changes(s->db) == 1) { /* still running: its rows count */
        rc = ins_curve(s, job_id, curve, ncurve);
        if (rc == STORE_OK)
            rc = ins_lyap(s, job_id, lyap, nlyap);
        if (rc == STORE_OK)
            rc = ins_diag(s, job_id, diag, ndiag);
    }
    if (rc == STORE_OK)
        rc = sq_commit(s);
    if (rc != STORE_OK)
        sq_rollback(s);
    return rc;
}

/* ---------------------------------------------------------------- readers */

int store_job_status_of(store *s, const config *c, int *status)
{
    char hex[17];
    hash_hex(config_hash(c), hex);
    *status = -1;
    sqlite3_stmt *st = sq_stmt(s, ST_STATUS_BY_HASH);
    if (!st || sq_bind_txt(s, st, 1, hex) != STORE_OK)
        return STORE_ERROR;
    int rc = sq_step(s, st);
    if (rc == SQLITE_ROW)
        *status = job_status_parse((const char *)sqlite3_column_text(st, 0));
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "look up a job");
}

int store_job_config(store *s, long job_id, config *c, int *status)
{
    sqlite3_stmt *st = sq_stmt(s, ST_JOB_CONFIG);
    if (!st)
        return STORE_ERROR;
    int rc = sq_bind_i64(s, st, 1, job_id) == STORE_OK ? sq_step(s, st) : SQLITE_ERROR;
    if (rc == SQLITE_ROW) {
        rc = parse_stored(s, job_id, (const char *)sqlite3_column_text(st, 0), c);
        if (status)
            *status = job_status_parse((const char *)sqlite3_column_text(st, 1));
    } else if (rc == SQLITE_DONE) {
        rc = sq_fail(s, STORE_REFUSED, "no job %ld", job_id);
    } else {
        rc = sq_sqlfail(s, "read a job");
    }
    sqlite3_reset(st);
    return rc;
}

/* Tensor t of job_id's final weights into p (shape checked). */
static int get_tensor(store *s, sqlite3_stmt *st, long job_id, int t, rnn_params *p)
{
    if (sq_bind_i64(s, st, 1, job_id) || sq_bind_txt(s, st, 2, rnn_tensor_name(t)))
        return STORE_ERROR;
    int sr = sq_step(s, st);
    if (sr == SQLITE_DONE)
        return sq_fail(s, STORE_REFUSED, "job %ld has no stored %s weights", job_id,
                       rnn_tensor_name(t));
    if (sr != SQLITE_ROW)
        return sq_sqlfail(s, "read weights");
    int rows, cols;
    rnn_tensor_shape(p, t, &rows, &cols);
    size_t n = (size_t)rows * (size_t)cols;
    if (sqlite3_column_int(st, 0) != rows || sqlite3_column_int(st, 1) != cols ||
        (size_t)sqlite3_column_bytes(st, 2) != n * sizeof(double))
        return sq_fail(s, STORE_ERROR, "job %ld: stored %s is %dx%d (%d bytes), expected %dx%d",
                       job_id, rnn_tensor_name(t), sqlite3_column_int(st, 0),
                       sqlite3_column_int(st, 1), sqlite3_column_bytes(st, 2), rows, cols);
    double *dst = rnn_tensor(p, t);
    const unsigned char *src = sqlite3_column_blob(st, 2);
    if (!host_le())
        swap_bytes(dst, src, n);
    else if (n)
        memcpy(dst, src, n * sizeof(double));
    return STORE_OK;
}

int store_weights_get(store *s, long job_id, rnn_params *p)
{
    int rc = STORE_OK;
    for (int t = 0; t < RNN_NTENSORS && rc == STORE_OK; t++) {
        sqlite3_stmt *st = sq_stmt(s, ST_WEIGHT_GET);
        if (!st)
            return STORE_ERROR;
        rc = get_tensor(s, st, job_id, t, p);
        sqlite3_reset(st);
    }
    return rc;
}
