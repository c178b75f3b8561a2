/* store_status.c — `rnnsweep status`: the database's state for people (text) and programs (JSON).
 *
 * One read transaction gives a consistent snapshot while a sweep writes:
 * counts by status, by status per swept key (a key column with more than
 * one value), the running jobs with their progress, the last launch (runs
 * row) and an estimate of the time left.  The report is rendered in memory
 * and written only when complete, so an error never leaves half a report.
 *
 * Progress of a running job: jobs.iters_done is set live by the sweep every
 * --flush seconds and jobs.started_at is the claim of this attempt (1 s
 * resolution).  A resumed attempt starts at its checkpoint's iteration
 * (checkpoints.iter, the checkpoint's last curve row), so its rate is
 *     rate = (iters_done - checkpoint iter) / (now - started_at)   it/s,
 * over the attempt (a snapshot has no second sample to difference), and
 * unknown (null) until it has done an iteration in this attempt or while
 * started_at is less than a second ago.  Flossing pretraining and the
 * exponents at initialisation count as time without iterations, so early
 * rates run low.  Seconds left for the job: (iters - iters_done) / rate.
 *
 * Time left for the sweep (eta): once a job has finished (done or diverged),
 * its mean compute time times the jobs left (pending + running) over the
 * last launch's ranks (rank 0 trains too); before that, from the running
 * jobs: each needs its seconds left, each pending job (and each running job
 * without a rate yet) a whole job at the running jobs' mean iters / rate,
 * all shared by the ranks, and never less than the longest seconds left.
 */
#include "store_int.h"
#include "rnnsweep/clock.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUNNING_SHOWN 50 /* running jobs listed by the text report */
#define AXIS_LISTED 20   /* the text report lists at most this many values of a key */

/* One running job. */
typedef struct run_job {
    long long id;
    char host[64], started[32];
    int rank, attempt;
    double elapsed;        /* seconds since the claim; NaN if unknown */
    long long done, iters; /* iters_done (-1 if unknown) of iters */
    long long from;        /* iteration the attempt resumed from (0: a fresh start) */
    double rate, left;     /* iterations per second over this attempt, seconds left; NaN if unknown */
} run_job;

/* What every report shows. */
typedef struct snapshot {
    sqlite3_int64 cnt[JOB_NSTATUS], total, nsweeps, schema;
    run_job *run;          /* (nrun) every running job, oldest claim first */
    size_t nrun;
    double mean_job;       /* mean wall_seconds of done and diverged jobs; NaN if none */
    int ranks;             /* of the last launch; 0 if there is none */
    double eta;            /* seconds until every job has run; NaN if unknown */
    const char *eta_from;  /* "finished", "running", or NULL */
} snapshot;

/* ---------------------------------------------------------------- snapshot */

static int read_counts(store *s, snapshot *sn)
{
    size_t cnt[JOB_NSTATUS];
    int rc = store_sweep_counts(s, 0, cnt);
    sn->total = 0;
    for (int i = 0; i < JOB_NSTATUS; i++)
        sn->total += sn->cnt[i] = (sqlite3_int64)cnt[i];
    sqlite3_stmt *st = rc == STORE_OK ? sq_stmt(s, ST_NSWEEPS) : NULL;
    if (!st)
        return STORE_ERROR;
    if (sq_step(s, st) == SQLITE_ROW)
        sn->nsweeps = sqlite3_column_int64(st, 0);
    else
        rc = sq_sqlfail(s, "count sweeps");
    sqlite3_reset(st);
    return rc == STORE_OK ? sq_query_int(s, "PRAGMA user_version", &sn->schema) : rc;
}

/* The rate and seconds left of r (see the top of the file). */
static void job_rate(run_job *r)
{
    r->rate = r->left = NAN;
    if (r->done < 0 || !(r->elapsed >= 1) || r->done <= r->from)
        return;
    r->rate = (double)(r->done - r->from) / r->elapsed;
    r->left = (double)(r->iters > r->done ? r->iters - r->done : 0) / r->rate;
}

static int read_running(store *s, snapshot *sn)
{
    sqlite3_stmt *st = sq_stmt(s, ST_RUNNING);
    if (!st)
        return STORE_ERROR;
    size_t cap = 0;
    int sr, rc = STORE_OK;
    while ((sr = sq_step(s, st)) == SQLITE_ROW) {
        if (sn->nrun == cap) {
            run_job *nr = realloc(sn->run, (cap = cap ? 2 * cap : 16) * sizeof *nr);
            if (!nr) {
                rc = sq_fail(s, STORE_ERROR, "out of memory for %zu running jobs", cap);
                break;
            }
            sn->run = nr;
        }
        run_job *r = &sn->run[sn->nrun++];
        const char *host = (const char *)sqlite3_column_text(st, 1);
        const char *at = (const char *)sqlite3_column_text(st, 4);
        r->id = sqlite3_column_int64(st, 0);
        snprintf(r->host, sizeof r->host, "%s", host ? host : "?");
        r->rank = sqlite3_column_int(st, 2);
        r->attempt = sqlite3_column_int(st, 3);
        snprintf(r->started, sizeof r->started, "%s", at ? at : "?");
        r->elapsed = sqlite3_column_type(st, 5) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 5);
        r->done = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
        r->iters = sqlite3_column_int64(st, 7);
        r->from = sqlite3_column_int64(st, 8); /* NULL (no checkpoint) reads as 0 */
        job_rate(r);
    }
    if (rc == STORE_OK && sr != SQLITE_DONE)
        rc = sq_sqlfail(s, "read running jobs");
    sqlite3_reset(st);
    return rc;
}

/* The mean job time and the last launch's ranks. */
static int read_times(store *s, snapshot *sn)
{
    sqlite3_stmt *st = sq_stmt(s, ST_MEAN_WALL);
    if (!st)
        return STORE_ERROR;
    int rc = STORE_OK;
    if (sq_step(s, st) == SQLITE_ROW)
        sn->mean_job = sqlite3_column_int64(st, 1) > 0 ? sqlite3_column_double(st, 0) : NAN;
    else
        rc = sq_sqlfail(s, "read job times");
    sqlite3_reset(st);
    if (rc != STORE_OK || !(st = sq_stmt(s, ST_LAST_RUN)))
        return STORE_ERROR;
    int sr = sq_step(s, st);
    sn->ranks = sr == SQLITE_ROW ? sqlite3_column_int(st, 6) : 0;
    if (sr != SQLITE_ROW && sr != SQLITE_DONE)
        rc = sq_sqlfail(s, "read runs");
    sqlite3_reset(st);
    return rc;
}

/* sn->eta and sn->eta_from (see the top of the file). */
static void estimate(snapshot *sn)
{
    const sqlite3_int64 left = sn->cnt[JOB_PENDING] + sn->cnt[JOB_RUNNING];
    const double workers = sn->ranks > 0 ? sn->ranks : 1;
    sn->eta = NAN;
    sn->eta_from = NULL;
    if (left == 0) {
        sn->eta = 0;
        return;
    }
    if (sn->mean_job > 0) {
        sn->eta = sn->mean_job * (double)left / workers;
        sn->eta_from = "finished";
        return;
    }
    double whole = 0, work = 0, longest = 0;
    size_t k = 0, without = 0;
    for (size_t i = 0; i < sn->nrun; i++) {
        const run_job *r = &sn->run[i];
        if (!isfinite(r->rate)) {
            without++;
            continue;
        }
        whole += (double)r->iters / r->rate;
        work += r->left;
        longest = fmax(longest, r->left);
        k++;
    }
    if (!k)
        return;
    work += (whole / (double)k) * (double)(sn->cnt[JOB_PENDING] + (sqlite3_int64)without);
    sn->eta = fmax(work / workers, longest);
    sn->eta_from = "running";
}

static int take_snapshot(store *s, snapshot *sn)
{
    memset(sn, 0, sizeof *sn);
    int rc = read_counts(s, sn);
    if (rc == STORE_OK)
        rc = read_running(s, sn);
    if (rc == STORE_OK)
        rc = read_times(s, sn);
    if (rc == STORE_OK)
        estimate(sn);
    return rc;
}

/* ---------------------------------------------------------------- axes */

/* Distinct values of key column `key`; STORE_OK or STORE_ERROR. */
static int axis_values(store *s, const char *key, sqlite3_int64 *n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COUNT(DISTINCT \"%s\") FROM jobs", key);
    return sq_query_int(s, sql, n);
}

/* One row per value of `key` in order: the value, then the count of each
 * status (pending ... timeout); a statement to finalize, or NULL. */
static sqlite3_stmt *axis_counts(store *s, const char *key)
{
    sbuf b = {0};
    sb_printf(&b, "SELECT \"%s\"", key);
    for (int i = 0; i < JOB_NSTATUS; i++)
        sb_printf(&b, ", SUM(status = '%s')", store_status_name(i));
    sb_printf(&b, " FROM jobs GROUP BY 1 ORDER BY 1");
    sqlite3_stmt *st = b.oom ? NULL : sq_prepare(s, b.p, "read an axis");
    if (b.oom)
        sq_fail(s, STORE_ERROR, "out of memory");
    free(b.p);
    return st;
}

/* Per-value status counts of one swept key (more than one distinct value). */
static int print_axis(store *s, FILE *f, const char *key)
{
    sqlite3_int64 ndist = 0;
    int rc = axis_values(s, key, &ndist);
    if (rc != STORE_OK || ndist < 2)
        return rc;
    if (ndist > AXIS_LISTED) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT MIN(\"%s\"), MAX(\"%s\") FROM jobs", key, key);
        sqlite3_stmt *st = sq_prepare(s, sql, "read an axis");
        if (!st)
            return STORE_ERROR;
        if (sq_step(s, st) == SQLITE_ROW)
            fprintf(f, "  %-14s %lld values from %s to %s\n", key, (long long)ndist,
                    (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
        else
            rc = sq_sqlfail(s, "read an axis");
        sqlite3_finalize(st);
        return rc;
    }
    sqlite3_stmt *st = axis_counts(s, key);
    if (!st)
        return STORE_ERROR;
    fprintf(f, "  %-14s", key);
    for (int i = 0; i < JOB_NSTATUS; i++)
        fprintf(f, " %9s", store_status_name(i));
    fputc('\n', f);
    int sr;
    while ((sr = sq_step(s, st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        fprintf(f, "    %-12.63s", v ? v : "NULL");
        for (int i = 0; i < JOB_NSTATUS; i++)
            fprintf(f, " %9lld", (long long)sqlite3_column_int64(st, 1 + i));
        fputc('\n', f);
    }
    sqlite3_finalize(st);
    return sr == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "read an axis");
}

/* ---------------------------------------------------------------- text */

static void print_running(const snapshot *sn, FILE *f)
{
    for (size_t i = 0; i < sn->nrun && i < RUNNING_SHOWN; i++) {
        const run_job *r = &sn->run[i];
        char age[32], left[32], done[32];
        if (i == 0)
            fprintf(f, "running:\n");
        clock_duration(r->elapsed, age, sizeof age);
        snprintf(done, sizeof done, r->done < 0 ? "?" : "%lld", r->done);
        fprintf(f, "  job %-8lld host %-16s rank %-4d attempt %d  started %s (%s ago)  iters %s/%lld",
                r->id, r->host, r->rank, r->attempt, r->started, age, done, r->iters);
        if (isfinite(r->rate)) {
            clock_duration(r->left, left, sizeof left);
            fprintf(f, " at %.3g it/s, %s left", r->rate, left);
        }
        fputc('\n', f);
    }
    if (sn->nrun > RUNNING_SHOWN)
        fprintf(f, "  ... and %zu more\n", sn->nrun - RUNNING_SHOWN);
}

/* The last run, and the time left. */
static int print_runs(store *s, const snapshot *sn, FILE *f)
{
    sqlite3_stmt *st = sq_stmt(s, ST_LAST_RUN);
    if (!st)
        return STORE_ERROR;
    int sr = sq_step(s, st);
    if (sr == SQLITE_ROW) {
#define TXT(i) (sqlite3_column_bytes(st, i) == 0 ? "-" : (const char *)sqlite3_column_text(st, i))
        fprintf(f, "last run: #%lld of sweep %s, rnnsweep %s (%s), %d ranks on %s, slurm job %s\n",
                (long long)sqlite3_column_int64(st, 0), TXT(1), TXT(9), TXT(10), sn->ranks, TXT(7),
                TXT(8));
        if (sqlite3_column_type(st, 3) != SQLITE_NULL)
            fprintf(f, "  started %s, finished %s, exit %s, %s jobs done\n", TXT(2), TXT(3), TXT(4),
                    TXT(5));
        else
            fprintf(f, "  started %s, not finished (running, or killed)\n", TXT(2));
#undef TXT
        const long long left = (long long)(sn->cnt[JOB_PENDING] + sn->cnt[JOB_RUNNING]);
        const int workers = sn->ranks > 0 ? sn->ranks : 1;
        char a[32], b[32];
        clock_duration(sn->eta, b, sizeof b);
        if (sn->eta_from && !strcmp(sn->eta_from, "finished")) {
            clock_duration(sn->mean_job, a, sizeof a);
            fprintf(f, "  mean job %s; %lld jobs left: about %s with %d rank(s) training\n", a,
                    left, b, workers);
        } else if (sn->eta_from) {
            fprintf(f, "  no job finished yet; from the running jobs' iteration rates, %lld jobs"
                    " left: about %s with %d rank(s) training\n", left, b, workers);
        }
        sr = SQLITE_DONE;
    }
    sqlite3_reset(st);
    return sr == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "read runs");
}

static int write_text(store *s, const snapshot *sn, FILE *f)
{
    const sqlite3_int64 finished = sn->cnt[JOB_DONE] + sn->cnt[JOB_DIVERGED] +
                                   sn->cnt[JOB_FAILED] + sn->cnt[JOB_TIMEOUT];
    fprintf(f, "%s: %lld jobs from %lld sweep file%s\n", s->path, (long long)sn->total,
            (long long)sn->nsweeps, sn->nsweeps == 1 ? "" : "s");
    fprintf(f, " ");
    for (int i = 0; i < JOB_NSTATUS; i++)
        fprintf(f, " %s %lld", store_status_name(i), (long long)sn->cnt[i]);
    fprintf(f, "\n  finished %lld of %lld (%.1f%%)\n", (long long)finished, (long long)sn->total,
            sn->total ? 100.0 * (double)finished / (double)sn->total : 0.0);
    fprintf(f, "by swept key:\n");
    int rc = STORE_OK;
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++)
        if (s->has_col[k])
            rc = print_axis(s, f, s->keys[k].name);
    if (rc == STORE_OK)
        print_running(sn, f);
    return rc == STORE_OK ? print_runs(s, sn, f) : rc;
}

/* ---------------------------------------------------------------- JSON */

/* Length of the valid UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t utf8_len(const unsigned char *p)
{
    const unsigned c = p[0];
    size_t n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
    if (c == 0xE0)
        lo = 0xA0;
    else if (c == 0xED)
        hi = 0x9F;
    else if (c == 0xF0)
        lo = 0x90;
    else if (c == 0xF4)
        hi = 0x8F;
    if (!n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* A JSON string: escaped, with U+FFFD for bytes that are not UTF-8; null for NULL. */
static void json_str(FILE *f, const char *v)
{
    if (!v) {
        fputs("null", f);
        return;
    }
    const unsigned char *p = (const unsigned char *)v;
    fputc('"', f);
    while (*p) {
        size_t n;
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p++);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p++);
        else if (*p < 0x80)
            fputc(*p++, f);
        else if ((n = utf8_len(p)) > 0)
            fwrite(p, 1, n, f), p += n;
        else
            fputs("\\ufffd", f), p++;
    }
    fputc('"', f);
}

/* A JSON number (shortest of %.15g and %.17g that reads back exactly); null if not finite. */
static void json_num(FILE *f, double v)
{
    char b[32];
    if (!isfinite(v)) {
        fputs("null", f);
        return;
    }
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v)
        snprintf(b, sizeof b, "%.17g", v);
    fputs(b, f);
}

/* Column i of a row as JSON, by its SQLite type (a BLOB is null). */
static void json_col(FILE *f, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: fprintf(f, "%lld", (long long)sqlite3_column_int64(st, i)); break;
    case SQLITE_FLOAT: json_num(f, sqlite3_column_double(st, i)); break;
    case SQLITE_TEXT: json_str(f, (const char *)sqlite3_column_text(st, i)); break;
    default: fputs("null", f); break;
    }
}

/* "axes": {key: [{"value": v, "pending": n, ...}, ...], ...} over the keys
 * with more than one value, every value listed. */
static int json_axes(store *s, FILE *f)
{
    int rc = STORE_OK, first = 1;
    fputs("\"axes\":{", f);
    for (size_t k = 0; k < s->nkeys && rc == STORE_OK; k++) {
        sqlite3_int64 ndist = 0;
        if (!s->has_col[k] || (rc = axis_values(s, s->keys[k].name, &ndist)) != STORE_OK ||
            ndist < 2)
            continue;
        sqlite3_stmt *st = axis_counts(s, s->keys[k].name);
        if (!st)
            return STORE_ERROR;
        fprintf(f, "%s", first ? "" : ",");
        json_str(f, s->keys[k].name);
        fputs(":[", f);
        first = 0;
        int sr;
        for (int row = 0; (sr = sq_step(s, st)) == SQLITE_ROW; row++) {
            fprintf(f, "%s{\"value\":", row ? "," : "");
            json_col(f, st, 0);
            for (int i = 0; i < JOB_NSTATUS; i++)
                fprintf(f, ",\"%s\":%lld", store_status_name(i),
                        (long long)sqlite3_column_int64(st, 1 + i));
            fputc('}', f);
        }
        fputc(']', f);
        if (sr != SQLITE_DONE)
            rc = sq_sqlfail(s, "read an axis");
        sqlite3_finalize(st);
    }
    fputc('}', f);
    return rc;
}

static void json_running(const snapshot *sn, FILE *f)
{
    fputs("\"running\":[", f);
    for (size_t i = 0; i < sn->nrun; i++) {
        const run_job *r = &sn->run[i];
        fprintf(f, "%s{\"id\":%lld,\"host\":", i ? "," : "", r->id);
        json_str(f, r->host);
        fprintf(f, ",\"rank\":%d,\"attempt\":%d,\"started_at\":", r->rank, r->attempt);
        json_str(f, r->started);
        fputs(",\"elapsed_seconds\":", f);
        json_num(f, r->elapsed);
        if (r->done < 0)
            fputs(",\"iters_done\":null", f);
        else
            fprintf(f, ",\"iters_done\":%lld", r->done);
        fprintf(f, ",\"iters\":%lld,\"resumed_from\":%lld,\"rate\":", r->iters, r->from);
        json_num(f, r->rate);
        fputs(",\"seconds_left\":", f);
        json_num(f, r->left);
        fputc('}', f);
    }
    fputc(']', f);
}

/* "last_run": the newest runs row, every column, or null. */
static int json_last_run(store *s, FILE *f)
{
    sqlite3_stmt *st = sq_stmt(s, ST_LAST_RUN);
    if (!st)
        return STORE_ERROR;
    fputs("\"last_run\":", f);
    int sr = sq_step(s, st);
    if (sr == SQLITE_ROW) {
        fputc('{', f);
        for (int i = 0; i < sqlite3_column_count(st); i++) {
            fprintf(f, "%s", i ? "," : "");
            json_str(f, sqlite3_column_name(st, i));
            fputc(':', f);
            json_col(f, st, i);
        }
        fputc('}', f);
        sr = SQLITE_DONE;
    } else {
        fputs("null", f);
    }
    sqlite3_reset(st);
    return sr == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "read runs");
}

static int write_json(store *s, const snapshot *sn, FILE *f)
{
    fputs("{\"database\":", f);
    json_str(f, s->path);
    fprintf(f, ",\"schema_version\":%lld,\"sweeps\":%lld,\"jobs\":%lld,\"counts\":{",
            (long long)sn->schema, (long long)sn->nsweeps, (long long)sn->total);
    for (int i = 0; i < JOB_NSTATUS; i++)
        fprintf(f, "%s\"%s\":%lld", i ? "," : "", store_status_name(i), (long long)sn->cnt[i]);
    fputs("},", f);
    int rc = json_axes(s, f);
    if (rc != STORE_OK)
        return rc;
    fputc(',', f);
    json_running(sn, f);
    fputs(",\"mean_job_seconds\":", f);
    json_num(f, sn->mean_job);
    fputs(",\"eta_seconds\":", f);
    json_num(f, sn->eta);
    fputs(",\"eta_from\":", f);
    json_str(f, sn->eta_from);
    fputc(',', f);
    rc = json_last_run(s, f);
    fputs("}\n", f);
    return rc;
}

/* ---------------------------------------------------------------- entry */

int store_status_write(store *s, FILE *f, int format, size_t *unfinished)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return sq_fail(s, STORE_ERROR, "out of memory");
    snapshot sn = {0};
    /* One read transaction: a consistent snapshot while a writer goes on. */
    int rc = sq_exec(s, "BEGIN", "begin a read");
    if (rc == STORE_OK) {
        rc = take_snapshot(s, &sn);
        if (rc == STORE_OK)
            rc = format == STORE_REPORT_JSON ? write_json(s, &sn, m) : write_text(s, &sn, m);
        int erc = sq_exec(s, rc == STORE_OK ? "COMMIT" : "ROLLBACK", "end the read");
        rc = rc != STORE_OK ? rc : erc;
        free(sn.run);
    }
    if (fclose(m) != 0 && rc == STORE_OK)
        rc = sq_fail(s, STORE_ERROR, "out of memory");
    if (rc == STORE_OK) {
        fwrite(buf, 1, len, f);
        if (unfinished)
            *unfinished = (size_t)(sn.cnt[JOB_PENDING] + sn.cnt[JOB_RUNNING]);
    }
    free(buf);
    return rc;
}

int store_status_print(store *s, FILE *f)
{
    return store_status_write(s, f, STORE_REPORT_TEXT, NULL);
}
