/* test_store.c — checks of the results database (src/store*.c) on real SQLite files.
 *
 * Every check runs against files in a fresh temporary directory and reads
 * the database back through a separate plain sqlite3 connection (what pandas
 * or the CLI would see), not through the store: sweeps added twice and grown,
 * the pending/claim/result/recover cycle, curve replacement, checkpoints,
 * NaN as NULL, weights round trip, the summary and best_lr views against
 * means and sds worked out by hand, refusals that leave the file
 * byte-for-byte unchanged, the launch lock, read-only status while a writer
 * is open, the sqlite3 CLI reading the views, a claim's start of iters_done,
 * the JSON status of running jobs, and the time of store_result_put.  Each check prints one line; exit 1 if any fails.
 */
#include "rnnsweep/store.h"
#include "rnnsweep/clock.h"
#include "rnnsweep/config.h"

#include <sqlite3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store_fixture.h"

/* A resolved romo/bptt config. */
static config job(int rule, double gain, double lr, long seed)
{
    config c;
    char err[CONFIG_ERRLEN];
    config_default(&c);
    c.rule = rule;
    c.gain = gain;
    c.lr = lr;
    c.seed = seed;
    c.hidden = 8;
    if (config_resolve(&c, 0, err) != 0) {
        fprintf(stderr, "config_resolve: %s\n", err);
        exit(1);
    }
    return c;
}

static void test_refusals(void)
{
    const char *text = tmp("notes.txt");
    spit(text, "gain = 1\nthis is a text file, not a database\n", 44);
    refused("text file", text, STORE_CREATE | STORE_LOCK, "not an SQLite database");

    unsigned char rnd[4096];
    unsigned long x = 12345;
    for (size_t i = 0; i < sizeof rnd; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        rnd[i] = (unsigned char)(x >> 56);
    }
    const char *rp = tmp("random.bin");
    spit(rp, rnd, sizeof rnd);
    refused("random bytes", rp, STORE_CREATE, "not an SQLite database");
    memcpy(rnd, "SQLite format 3", 16);
    const char *rh = tmp("random_hdr.bin");
    spit(rh, rnd, sizeof rnd);
    refused("SQLite header then random bytes", rh, STORE_CREATE, "not an");

    const char *other = tmp("other.db");
    sql(other, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
    refused("another application's database", other, STORE_CREATE, "not an rnnsweep database");
    refused("another application's database, read-only", other, STORE_READONLY,
            "not an rnnsweep database");
    const char *other2 = tmp("other2.db");
    sql(other2, "PRAGMA application_id = 1234;");
    refused("empty database with another application_id", other2, STORE_CREATE,
            "application_id 0x000004d2");

    const char *newer = tmp("newer.db");
    sql(newer, "PRAGMA application_id = 0x524E5357; PRAGMA user_version = 99; CREATE TABLE jobs(id);");
    refused("our database from a newer schema", newer, STORE_CREATE, "newer rnnsweep (schema 99 > 2)");

    refused("read-only open of a missing file", tmp("missing.db"), STORE_READONLY,
            "no such database");
    refused("missing file without STORE_CREATE", tmp("missing2.db"), 0, "no such database");
    check_true(access(tmp("missing.db"), F_OK) != 0 &&
                   access(tmp("missing2.db"), F_OK) != 0,
               "refused opens created no file", NULL);
    refused("database in a nonexistent directory", tmp("nodir/sub/r.db"), STORE_CREATE,
            "does not exist");
    refused("a directory", dir, STORE_CREATE, "not a regular file");

    /* An empty file is an empty database: ours to initialise. */
    const char *empty = tmp("empty.db");
    spit(empty, "", 0);
    store *s = NULL;
    char err[STORE_ERRLEN];
    int rc = store_open(&s, empty, STORE_CREATE, err);
    check_true(rc == STORE_OK && q1(empty, "PRAGMA application_id") == 0x524E5357 &&
                   q1(empty, "PRAGMA user_version") == 2,
               "empty file initialised (application_id, user_version 2)", "%s", rc ? err : "");
    store_close(s);
}

static void test_lock(void)
{
    const char *path = tmp("lock.db");
    store *a = NULL, *b = NULL;
    char err[STORE_ERRLEN];
    int rc = store_open(&a, path, STORE_CREATE | STORE_LOCK, err);
    check_true(rc == STORE_OK, "first launch takes the lock", "%s", rc ? err : "");
    refused("second launch while the lock is held", path, STORE_CREATE | STORE_LOCK,
            "is in use by another running sweep (pid");
    rc = store_open(&b, path, STORE_READONLY, err);
    check_true(rc == STORE_OK, "read-only open without the lock meanwhile", "%s", rc ? err : "");
    store_close(b);
    b = NULL;
    store_close(a);
    rc = store_open(&b, path, STORE_LOCK, err);
    check_true(rc == STORE_OK, "lock free again after store_close", "%s", rc ? err : "");
    store_close(b);
}

/* Adding sweeps, pending, claim, recover, results, checkpoints, weights. */
static void test_cycle(void)
{
    const char *path = tmp("cycle.db");
    store *s = NULL;
    char err[STORE_ERRLEN];
    int rc = store_open(&s, path, STORE_CREATE | STORE_LOCK, err);
    check_true(rc == STORE_OK, "create a database", "%s", rc ? err : "");
    if (rc)
        return;
    /* 2 rules x 2 gains x 2 lrs x 3 seeds = 24 jobs. */
    config jobs[36];
    size_t n = 0;
    for (int r = 0; r < 2; r++)
        for (int g = 0; g < 2; g++)
            for (int l = 0; l < 3; l++)
                for (long sd = 0; sd < 3; sd++)
                    if (l < 2)
                        jobs[n++] = job(r, g ? 2.0 : 0.5, l ? 1e-2 : 1e-3, sd);
    long sw1 = 0, sw1b = 0, sw2 = 0;
    size_t added = 99;
    rc = store_add_sweep(s, "a.ini", "gain = 0.5, 2\n", 111, jobs, n, &sw1, &added);
    check_true(rc == STORE_OK && added == 24 && sw1 > 0, "add a sweep: 24 new jobs", "added %zu %s",
               added, rc ? store_errmsg(s) : "");
    rc = store_add_sweep(s, "a.ini", "gain = 0.5, 2\n", 111, jobs, n, &sw1b, &added);
    check_true(rc == STORE_OK && added == 0 && sw1b == sw1, "add it again: no new jobs, same sweep",
               "added %zu, sweep %ld/%ld", added, sw1, sw1b);
    /* The same grid with a third lr: only the 12 new jobs are added. */
    size_t m = 0;
    config more[36];
    for (int r = 0; r < 2; r++)
        for (int g = 0; g < 2; g++)
            for (int l = 0; l < 3; l++)
                for (long sd = 0; sd < 3; sd++)
                    more[m++] = job(r, g ? 2.0 : 0.5, l == 0 ? 1e-3 : l == 1 ? 1e-2 : 1e-1, sd);
    rc = store_add_sweep(s, "b.ini", "lr = ...\n", 222, more, m, &sw2, &added);
    check_true(rc == STORE_OK && added == 12 && sw2 != sw1,
               "add a value to a list: only 12 new jobs", "added %zu", added);
    check_true(q1(path, "SELECT count(*) FROM jobs") == 36 &&
                   q1(path, "SELECT count(*) FROM sweep_jobs WHERE sweep_id = 2") == 36 &&
                   q1(path, "SELECT count(*) FROM sweeps") == 2,
               "jobs 36, sweep_jobs of sweep 2: 36, sweeps 2", NULL);
    check_true(
        q1(path,
           "SELECT count(*) FROM jobs WHERE rule = 'eprop' AND gain = 2 AND lr = 0.1 AND"
           " seed = 2 AND hidden = 8 AND typeof(gain) = 'real' AND typeof(seed) = 'integer'") == 1,
        "typed key columns queryable (rule = 'eprop', gain = 2, ...)", NULL);

    long *ids = NULL;
    config *cfgs = NULL;
    size_t np = 0, nsus = 0;
    rc = store_pending(s, sw1, &ids, &cfgs, &np, &nsus);
    int same = rc == STORE_OK && np == 24;
    for (size_t i = 0; same && i < np; i++)
        same = config_hash(&cfgs[i]) == config_hash(&jobs[i]) &&
               memcmp(&cfgs[i], &jobs[i], sizeof(config)) == 0;
    check_true(same, "pending of sweep 1: 24 configs parsed back identically", "%zu", np);

    long run = 0;
    store_run_info info = {.sweep_id = sw1, .version = "test", .git = "abc", .hosts = "h1",
                           .ranks = 3, .command = "test_store"};
    rc = store_run_begin(s, &info, &run);
    check_true(rc == STORE_OK && run > 0, "run_begin", "run %ld", run);

    /* claim -> recover -> pending (attempts kept) -> claim -> recover -> failed. */
    long a = ids[0];
    char sql[256];
    rc = store_claim(s, a, run, "h1", 1);
    snprintf(sql, sizeof sql, "SELECT attempts FROM jobs WHERE id = %ld AND status = 'running'"
                              " AND host = 'h1' AND rank = 1 AND started_at LIKE '____-__-__T__:__:__Z'", a);
    check_true(rc == STORE_OK && q1(path, sql) == 1,
               "claim: running, attempts 1, host, rank, started_at", NULL);
    rc = store_claim(s, a, run, "h1", 1);
    check_true(rc == STORE_ERROR && strstr(store_errmsg(s), "not pending"),
               "claiming a running job fails", "%s", store_errmsg(s));
    store_recovery rv;
    rc = store_recover(s, 2, &rv);
    snprintf(sql, sizeof sql, "SELECT attempts FROM jobs WHERE id = %ld AND status = 'pending'"
                              " AND crashes = 1 AND suspect = 1", a);
    check_true(
        rc == STORE_OK && rv.requeued == 1 && rv.blamed == 1 && rv.failed == 0 &&
            q1(path, sql) == 1,
        "recover: the job a dead launch ran alone -> pending, blamed (crashes 1), a suspect, attempts kept",
        "requeued %zu blamed %zu failed %zu", rv.requeued, rv.blamed, rv.failed);
    store_claim(s, a, run, "h2", 2);
    rc = store_recover(s, 2, &rv);
    int st = -1;
    config back;
    store_job_config(s, a, &back, &st);
    check_true(rc == STORE_OK && rv.requeued == 0 && rv.failed == 1 && st == JOB_FAILED,
               "recover after max_attempts deaths: failed", "requeued %zu failed %zu status %s",
               rv.requeued, rv.failed, store_status_name(st));

    /* Blame: several jobs running in a dead launch -> suspects, nobody charged;
     * a launch that closed its runs row blames nobody; suspects come first
     * in the pending list; a result clears it. */
    {
        long r2 = 0, r3 = 0;
        store_run_begin(s, &info, &r2);
        store_claim(s, ids[10], r2, "h1", 0);
        store_claim(s, ids[11], r2, "h1", 1);
        store_claim(s, ids[12], r2, "h1", 2);
        rc = store_recover(s, 2, &rv);
        check_true(rc == STORE_OK && rv.blamed == 0 && rv.suspects == 3 && rv.requeued == 3 &&
                       q1(path, "SELECT sum(crashes) FROM jobs WHERE status = 'pending'") == 0 &&
                       q1(path, "SELECT count(*) FROM jobs WHERE suspect = 1") == 3,
                   "a launch that died running 3 jobs blames none: 3 suspects",
                   "blamed %zu suspects %zu", rv.blamed, rv.suspects);
        long *pid = NULL;
        config *pcf = NULL;
        size_t pn = 0, ps = 0;
        rc = store_pending(s, sw1, &pid, &pcf, &pn, &ps);
        int front = rc == STORE_OK && ps == 3 && pn > 3;
        for (size_t i = 0; front && i < 3; i++)
            front = pid[i] == ids[10 + i];
        check_true(front, "pending: the 3 suspects first", "%zu suspects of %zu", ps, pn);
        free(pid);
        free(pcf);
        /* the suspect run alone: the next death blames it */
        store_run_begin(s, &info, &r3);
        store_claim(s, ids[11], r3, "h1", 0);
        rc = store_recover(s, 2, &rv);
        snprintf(sql, sizeof sql, "SELECT crashes FROM jobs WHERE id = %ld AND suspect = 1", ids[11]);
        check_true(rc == STORE_OK && rv.blamed == 1 && q1(path, sql) == 1,
                   "a suspect whose launch dies while it runs alone is blamed once, stays a suspect", "blamed %zu",
                   rv.blamed);
        /* orderly: a closed runs row */
        store_run_begin(s, &info, &r3);
        store_claim(s, ids[13], r3, "h1", 0);
        store_run_end(s, r3, 1, 0);
        rc = store_recover(s, 2, &rv);
        snprintf(sql, sizeof sql, "SELECT crashes FROM jobs WHERE id = %ld AND status = 'pending'", ids[13]);
        check_true(rc == STORE_OK && rv.blamed == 0 && rv.requeued == 1 && q1(path, sql) == 0,
                   "a launch that closed its runs row (a database error) blames nobody", NULL);
        /* a finished result clears suspect */
        store_claim(s, ids[10], r3, "h1", 0);
        store_result done = {.job_id = ids[10], .status = JOB_DONE, .test_loss = 0.5,
                             .test_accuracy = 1};
        rc = store_result_put(s, &done);
        snprintf(sql, sizeof sql, "SELECT suspect FROM jobs WHERE id = %ld", ids[10]);
        check_true(rc == STORE_OK && q1(path, sql) == 0, "a stored result clears suspect", NULL);
    }

    /* Results replace curve rows; NaN final loss stored as NULL. */
    long b = ids[1];
    train_curve_row curve[100];
    for (int i = 0; i < 100; i++)
        curve[i] = (train_curve_row){.iter = 10 * i, .loss = 1.0 / (1 + i), .accuracy = 0.01 * i};
    train_lyap_row ly[3] = {{.phase = PHASE_INIT, .iter = 0, .idx = 0, .mean = 0.1, .sd = 0.01},
                            {.phase = PHASE_INIT, .iter = 0, .idx = 1, .mean = -0.2, .sd = 0.02},
                            {.phase = PHASE_TRAINED, .iter = 990, .idx = 0, .mean = -0.05, .sd = 0.005}};
    store_claim(s, b, run, "h1", 1);
    store_result r = {.job_id = b, .status = JOB_DONE, .host = "h1", .rank = 1, .wall_seconds = 1.5,
                      .test_loss = 0.01, .test_accuracy = 0.99, .curve = curve, .ncurve = 100,
                      .lyap = ly, .nlyap = 3};
    rc = store_result_put(s, &r);
    r.ncurve = 50;
    r.nlyap = 2;
    int rc2 = store_result_put(s, &r);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM curves WHERE job_id = %ld", b);
    double nc = q1(path, sql);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM lyapunov WHERE job_id = %ld", b);
    double nl = q1(path, sql);
    snprintf(sql, sizeof sql, "SELECT iters_done + 1000 * wall_seconds FROM jobs WHERE id = %ld"
                              " AND status = 'done' AND finished_at IS NOT NULL", b);
    check_true(rc == STORE_OK && rc2 == STORE_OK && nc == 50 && nl == 2 &&
                   q1(path, sql) == 490 + 3000,
               "result_put twice: curve/exponent rows replaced, iters_done, wall summed",
               "curve rows %g, lyap rows %g %s", nc, nl, rc ? store_errmsg(s) : "");

    long c = ids[2];
    store_claim(s, c, run, "h1", 1);
    store_result nanr = {.job_id = c, .status = JOB_DIVERGED, .test_loss = NAN,
                         .test_accuracy = INFINITY, .curve = curve, .ncurve = 3};
    curve[2].loss = NAN;
    rc = store_result_put(s, &nanr);
    curve[2].loss = 1.0 / 3;
    snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = %ld AND final_loss IS NULL"
                              " AND final_accuracy IS NULL AND status = 'diverged'", c);
    char sql2[256];
    snprintf(sql2, sizeof sql2, "SELECT count(*) FROM curves WHERE job_id = %ld AND loss IS NULL", c);
    check_true(rc == STORE_OK && q1(path, sql) == 1 && q1(path, sql2) == 1,
               "NaN/inf final values and curve losses stored as NULL", NULL);

    /* Interrupted job: checkpoint kept, attempt given back; then done: deleted. */
    long d = ids[3];
    unsigned char ck[1000];
    for (int i = 0; i < 1000; i++)
        ck[i] = (unsigned char)(i * 7);
    store_claim(s, d, run, "h1", 1);
    store_result pr = {.job_id = d, .status = JOB_PENDING, .curve = curve, .ncurve = 5,
                       .test_loss = NAN, .test_accuracy = NAN, .checkpoint = ck,
                       .checkpoint_size = sizeof ck, .wall_seconds = 2};
    rc = store_result_put(s, &pr);
    void *got = NULL;
    size_t gn = 0;
    rc2 = store_checkpoint_get(s, d, &got, &gn);
    snprintf(sql, sizeof sql, "SELECT attempts FROM jobs WHERE id = %ld AND status = 'pending'", d);
    check_true(rc == STORE_OK && rc2 == STORE_OK && gn == sizeof ck && got &&
                   !memcmp(got, ck, gn) && q1(path, sql) == 0,
               "PENDING result: checkpoint stored, attempts back to 0", "%zu bytes", gn);
    free(got);
    store_claim(s, d, run, "h1", 1);
    pr.status = JOB_DONE;
    pr.test_loss = 0.5;
    rc = store_result_put(s, &pr);
    rc2 = store_checkpoint_get(s, d, &got, &gn);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM checkpoints WHERE job_id = %ld", d);
    check_true(rc == STORE_OK && rc2 == STORE_OK && got == NULL && gn == 0 && q1(path, sql) == 0,
               "DONE result: checkpoint deleted", NULL);

    /* Final weights round trip. */
    rnn_params w, w2;
    rnn_params_alloc(&w, 8, 3, 2);
    rnn_params_alloc(&w2, 8, 3, 2);
    for (size_t i = 0; i < w.size; i++)
        w.data[i] = sin((double)i) * 1e3 + 1e-300 * (double)i;
    long e = ids[4];
    store_claim(s, e, run, "h1", 1);
    store_result wr = {.job_id = e, .status = JOB_DONE, .test_loss = 0.1, .weights = &w};
    rc = store_result_put(s, &wr);
    rc2 = store_weights_get(s, e, &w2);
    snprintf(sql, sizeof sql, "SELECT rows * 10 + cols FROM weights WHERE job_id = %ld AND name = 'W_in'"
                              " AND phase = 'final' AND length(data) = 8 * 8 * 3", e);
    check_true(rc == STORE_OK && rc2 == STORE_OK &&
                   !memcmp(w.data, w2.data, w.size * sizeof(double)) && q1(path, sql) == 83,
               "weights: 5 BLOBs, bit-identical round trip", "%s", rc2 ? store_errmsg(s) : "");
    rc = store_weights_get(s, ids[5], &w2);
    check_true(rc == STORE_REFUSED, "weights of a job without weights: refused", "%s",
               store_errmsg(s));
    rnn_params_free(&w);
    rnn_params_free(&w2);
    rc = store_job_config(s, 999999, &back, &st);
    check_true(rc == STORE_REFUSED, "config of a missing job: refused", "%s", store_errmsg(s));

    size_t cnt1[6], cnt2[6], call[6];
    rc = store_sweep_counts(s, sw1, cnt1);
    rc |= store_sweep_counts(s, sw2, cnt2);
    rc |= store_sweep_counts(s, 0, call);
    check_true(rc == STORE_OK && cnt1[JOB_PENDING] == 18 && cnt1[JOB_DONE] == 4 &&
                   cnt1[JOB_DIVERGED] == 1 && cnt1[JOB_FAILED] == 1 && cnt1[JOB_RUNNING] == 0 &&
                   cnt2[JOB_PENDING] == 30 && call[JOB_PENDING] == 30 && cnt2[JOB_DONE] == 4,
               "sweep_counts per sweep and overall",
               "sweep 1: pending %zu done %zu; sweep 2: pending %zu", cnt1[JOB_PENDING],
               cnt1[JOB_DONE], cnt2[JOB_PENDING]);
    rc = store_run_end(s, run, 0, 4);
    snprintf(sql, sizeof sql, "SELECT jobs_done FROM runs WHERE id = %ld AND exit_code = 0"
                              " AND finished_at IS NOT NULL AND ranks = 3", run);
    check_true(rc == STORE_OK && q1(path, sql) == 4, "run_end", NULL);

    /* Status from a read-only connection while the writer is open. */
    store *ro = NULL;
    store_claim(s, ids[6], run, "node7", 2);
    rc = store_open(&ro, path, STORE_READONLY, err);
    char *out = NULL;
    size_t outn = 0;
    FILE *mf = open_memstream(&out, &outn);
    rc2 = rc == STORE_OK ? store_status_print(ro, mf) : -1;
    fclose(mf);
    check_true(rc == STORE_OK && rc2 == STORE_OK && strstr(out, "done 4") &&
                   strstr(out, "failed 1") && strstr(out, "node7") && strstr(out, "  lr ") &&
                   strstr(out, "  gain ") && !strstr(out, "  hidden "),
               "status on a read-only connection (counts, axes, running)", "%s",
               rc2 ? store_errmsg(ro) : "");
    printf("---- store_status_print ----\n%s----\n", out ? out : "");
    free(out);
    store_close(ro);
    free(ids);
    free(cfgs);
    store_close(s);
}

/* A claim starts the attempt's iters_done at its checkpoint's iteration (NULL
 * without one), whatever a dead attempt left; status --json shows it; a
 * damaged stored config is refused with the job and the line named. */
static void test_claim_progress(void)
{
    const char *path = tmp("claim.db");
    store *s = NULL;
    char err[STORE_ERRLEN], sql[256];
    int rc = store_open(&s, path, STORE_CREATE | STORE_LOCK, err);
    check_true(rc == STORE_OK, "claim/progress: create a database", "%s", rc ? err : "");
    if (rc)
        return;
    config jobs[2] = {job(0, 1.0, 1e-3, 0), job(0, 1.0, 1e-3, 1)};
    long sw = 0, run = 0, *ids = NULL;
    size_t added = 0, np = 0, nsus = 0;
    config *cfgs = NULL;
    store_run_info info = {.version = "test", .ranks = 2};
    rc = store_add_sweep(s, "c.ini", "seed = 0, 1\n", 333, jobs, 2, &sw, &added);
    if (rc == STORE_OK)
        rc = store_run_begin(s, &info, &run);
    if (rc == STORE_OK)
        rc = store_pending(s, sw, &ids, &cfgs, &np, &nsus);
    check_true(rc == STORE_OK && np == 2, "claim/progress: 2 pending jobs", "%s", rc ? store_errmsg(s) : "");
    if (rc != STORE_OK || np != 2) {
        store_close(s);
        return;
    }
    const long a = ids[0], b = ids[1];
    /* b is interrupted with a checkpoint at its last curve row, iteration 40. */
    train_curve_row curve[3] = {{0, 1.0, 0.1}, {20, 0.9, 0.2}, {40, 0.8, 0.3}};
    unsigned char ck[64] = {1};
    store_result pr = {.job_id = b, .status = JOB_PENDING, .curve = curve, .ncurve = 3,
                       .val_loss = NAN, .val_accuracy = NAN, .test_loss = NAN,
                       .test_accuracy = NAN, .checkpoint = ck, .checkpoint_size = sizeof ck};
    rc = store_claim(s, b, run, "h", 1);
    if (rc == STORE_OK)
        rc = store_result_put(s, &pr);
    /* Both run, report progress, and their launch dies. */
    if (rc == STORE_OK)
        rc = store_claim(s, a, run, "h", 0);
    if (rc == STORE_OK)
        rc = store_claim(s, b, run, "h", 1);
    if (rc == STORE_OK)
        rc = store_progress(s, a, 777, NULL, 0, NULL, 0, NULL, 0);
    if (rc == STORE_OK)
        rc = store_progress(s, b, 90, NULL, 0, NULL, 0, NULL, 0);
    store_recovery rec;
    if (rc == STORE_OK)
        rc = store_recover(s, 3, &rec);
    snprintf(sql, sizeof sql, "SELECT sum(iters_done) FROM jobs WHERE status = 'pending'"
                              " AND id IN (%ld, %ld)", a, b);
    check_true(rc == STORE_OK && rec.requeued == 2 && q1(path, sql) == 777 + 90,
          "claim/progress: a dead attempt's iters_done stays while pending", "%s",
          rc ? store_errmsg(s) : "");
    /* The next attempts start from scratch and from the checkpoint. */
    rc = store_claim(s, a, run, "h", 0);
    if (rc == STORE_OK)
        rc = store_claim(s, b, run, "h", 1);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM jobs WHERE id = %ld AND iters_done IS NULL", a);
    double na = q1(path, sql);
    snprintf(sql, sizeof sql, "SELECT iters_done FROM jobs WHERE id = %ld", b);
    double nb = q1(path, sql);
    check_true(rc == STORE_OK && na == 1 && nb == 40,
          "claim: iters_done NULL without a checkpoint, the checkpoint's iteration with one",
          "a: %g NULL, b: %g (want 40)", na, nb);
    /* status --json on a read-only connection. */
    store *ro = NULL;
    char *out = NULL;
    size_t outn = 0, left = 0;
    rc = store_open(&ro, path, STORE_READONLY, err);
    FILE *mf = open_memstream(&out, &outn);
    int rc2 = rc == STORE_OK ? store_status_write(ro, mf, STORE_REPORT_JSON, &left) : -1;
    fclose(mf);
    char want[128];
    snprintf(want, sizeof want, "{\"id\":%ld,\"host\":\"h\",\"rank\":1,\"attempt\":2,", b);
    check_true(rc2 == STORE_OK && left == 2 && out && strstr(out, "\"counts\":{\"pending\":0,\"running\":2,") &&
              strstr(out, want) && strstr(out, "\"iters_done\":40,\"iters\":1000,\"resumed_from\":40,"
                                               "\"rate\":null,\"seconds_left\":null}") &&
              strstr(out, "\"iters_done\":null,\"iters\":1000,\"resumed_from\":0,\"rate\":null"),
          "status JSON: running jobs with iters_done, resumed_from, unknown rates null", "%s",
          rc2 ? store_errmsg(ro ? ro : s) : out);
    free(out);
    store_close(ro);
    /* A stored config this rnnsweep cannot read names the job and the problem. */
    sqlite3 *raw = NULL;
    snprintf(sql, sizeof sql, "UPDATE jobs SET config = 'task=romo\nbogus_key=1\n' WHERE id = %ld", a);
    sqlite3_open(path, &raw);
    sqlite3_busy_timeout(raw, 5000);
    int erc = sqlite3_exec(raw, sql, NULL, NULL, NULL);
    sqlite3_close(raw);
    config back;
    rc = store_job_config(s, a, &back, NULL);
    snprintf(want, sizeof want, ": job %ld: stored config has key 'bogus_key' this rnnsweep does not"
                                " know", a);
    check_true(erc == SQLITE_OK && rc == STORE_ERROR && strstr(store_errmsg(s), want),
          "a stored config with an unknown key: refused naming job and key", "%s", store_errmsg(s));
    free(ids);
    free(cfgs);
    store_close(s);
}

/* Views on hand-made results: gain 1 and 2, lr 1e-3 and 1e-2, seeds 0..2. */
static void test_views(void)
{
    const char *path = tmp("views.db");
    store *s = NULL;
    char err[STORE_ERRLEN];
    if (store_open(&s, path, STORE_CREATE, err) != STORE_OK) {
        check_true(0, "create views.db", "%s", err);
        return;
    }
    /* final losses; NAN = diverged. */
    const double loss[2][2][3] = {{{0.5, 0.7, 0.6}, {0.2, 0.4, NAN}},   /* gain 1 */
                                  {{0.9, 1.1, 1.0}, {0.1, 0.3, 0.2}}};  /* gain 2 */
    config jobs[12];
    size_t n = 0;
    for (int g = 0; g < 2; g++)
        for (int l = 0; l < 2; l++)
            for (int sd = 0; sd < 3; sd++)
                jobs[n++] = job(RULE_BPTT, g + 1.0, l ? 1e-2 : 1e-3, sd);
    long sw;
    size_t added;
    store_add_sweep(s, "v.ini", "v", 1, jobs, n, &sw, &added);
    long *ids;
    config *cfgs;
    size_t np, nsus;
    store_pending(s, sw, &ids, &cfgs, &np, &nsus);
    for (size_t i = 0; i < np; i++) {
        double L = loss[i / 6][(i / 3) % 2][i % 3];
        store_claim(s, ids[i], 0, "h", 1);
        store_result r = {.job_id = ids[i], .status = isnan(L) ? JOB_DIVERGED : JOB_DONE,
                          .test_loss = L, .test_accuracy = isnan(L) ? NAN : 1 - L,
                          .val_loss = L, .val_accuracy = isnan(L) ? NAN : 1 - L};
        store_result_put(s, &r);
    }
    /* One extra pending job in group (gain 1, lr 1e-3) must not count as a seed. */
    config extra = job(RULE_BPTT, 1.0, 1e-3, 7);
    store_add_sweep(s, "v2.ini", "v2", 2, &extra, 1, &sw, &added);
    free(ids);
    free(cfgs);
    store_close(s);

    const char *g1 = "FROM summary WHERE gain = 1 AND lr = 0.001";
    const char *g1b = "FROM summary WHERE gain = 1 AND lr = 0.01";
    char q[256];
#define Q(col, from) (snprintf(q, sizeof q, "SELECT %s %s", col, from), q1(path, q))
    /* gain 1, lr 1e-3: mean 0.6, sample sd 0.1; lr 1e-2: 0.2, 0.4 done, one diverged:
     * mean 0.3, sd sqrt(0.02). */
    double m1 = Q("mean_final_loss", g1), s1 = Q("sd_final_loss", g1), v1 = Q("var_final_loss", g1);
    double m2 = Q("mean_final_loss", g1b), s2 = Q("sd_final_loss", g1b);
    double a1 = Q("mean_final_accuracy", g1);
    check_true(fabs(m1 - 0.6) < 1e-12 && fabs(s1 - 0.1) < 1e-12 && fabs(v1 - 0.01) < 1e-12 &&
                   fabs(a1 - 0.4) < 1e-12,
               "summary gain 1 lr 1e-3: mean 0.6, sd 0.1, var 0.01, acc 0.4",
               "%.17g %.17g %.17g %.17g", m1, s1, v1, a1);
    check_true(fabs(m2 - 0.3) < 1e-12 && fabs(s2 - sqrt(0.02)) < 1e-12,
               "summary gain 1 lr 1e-2: mean 0.3, sd sqrt(0.02) over done", "%.17g %.17g", m2, s2);
    check_true(Q("n_jobs", g1) == 4 && Q("n_seeds", g1) == 3 && Q("n_done", g1) == 3 &&
                   Q("n_diverged", g1) == 0 && Q("n_seeds", g1b) == 3 && Q("n_done", g1b) == 2 &&
                   Q("n_diverged", g1b) == 1,
               "summary counts: n_jobs, n_seeds (finished), n_done, n_diverged", NULL);
    check_true(q1(path, "SELECT count(*) FROM summary") == 4,
               "summary: 4 groups (seed not grouped)", NULL);
    /* best_lr: gain 1 -> 1e-3 (1e-2 has a diverged seed despite its lower mean);
     * gain 2 -> 1e-2 (mean 0.2 < 1.0). */
    double b1 = q1(path, "SELECT lr FROM best_lr WHERE gain = 1");
    double b2 = q1(path, "SELECT lr FROM best_lr WHERE gain = 2");
    double bm = q1(path, "SELECT mean_final_loss FROM best_lr WHERE gain = 2");
    check_true(b1 == 1e-3 && b2 == 1e-2 && fabs(bm - 0.2) < 1e-12 &&
                   q1(path, "SELECT count(*) FROM best_lr") == 2 &&
                   q1(path, "SELECT min(n_lrs) FROM best_lr") == 2,
               "best_lr: fewest diverged first, then lowest mean", "gain1 %g gain2 %g (mean %g)",
               b1, b2, bm);

    /* The plain sqlite3 CLI reads the views without our code. */
    if (access("/usr/bin/sqlite3", X_OK) == 0) {
        char cmd[700], line[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/sqlite3 -csv '%s' 'select * from summary; select gain, lr from best_lr' 2>&1", path);
        FILE *p = popen(cmd, "r");
        int rows = 0, err_seen = 0, found = 0;
        while (p && fgets(line, sizeof line, p)) {
            rows++;
            err_seen |= strstr(line, "Error") != NULL;
            found |= strncmp(line, "2.0,0.01", 8) == 0 || strncmp(line, "2,0.01", 6) == 0;
        }
        int status = p ? pclose(p) : -1;
        check_true(status == 0 && rows == 6 && !err_seen && found,
                   "sqlite3 CLI: select * from summary; best_lr", "%d lines, exit %d", rows,
                   status);
    } else {
        printf("skip /usr/bin/sqlite3 not installed\n");
    }
}

/* Time of claim + result_put for 400 one-iteration jobs with 100-row curves. */
static void test_speed(void)
{
    const char *path = tmp("speed.db");
    store *s = NULL;
    char err[STORE_ERRLEN];
    if (store_open(&s, path, STORE_CREATE | STORE_LOCK, err) != STORE_OK) {
        check_true(0, "create speed.db", "%s", err);
        return;
    }
    enum { NJ = 400 };
    config *jobs = malloc(NJ * sizeof *jobs);
    for (int i = 0; i < NJ; i++)
        jobs[i] = job(i % 3, 0.5 + 0.1 * (i % 20), 1e-3, i / 20);
    long sw, run, *ids;
    size_t added, np, nsus;
    config *cfgs;
    double t0 = clock_now();
    store_add_sweep(s, "speed.ini", "speed", 3, jobs, NJ, &sw, &added);
    double t_add = clock_now() - t0;
    store_run_info info = {.sweep_id = sw, .ranks = 2};
    store_run_begin(s, &info, &run);
    store_pending(s, sw, &ids, &cfgs, &np, &nsus);
    train_curve_row curve[100];
    for (int i = 0; i < 100; i++)
        curve[i] = (train_curve_row){i, 1.0 / (1 + i), 0.5};
    train_lyap_row ly[8];
    for (int i = 0; i < 8; i++)
        ly[i] = (train_lyap_row){.phase = i < 4 ? PHASE_INIT : PHASE_TRAINED, .iter = i < 4 ? 0 : 99,
                                 .idx = i % 4, .mean = -0.1 * i, .sd = 0.01};
    rnn_params w;
    rnn_params_alloc(&w, 64, 3, 2);
    double put[NJ], total = 0;
    int bad = 0;
    double tb = clock_now();
    for (size_t i = 0; i < np; i++) {
        double a = clock_now();
        bad |= store_claim(s, ids[i], run, "host", 1);
        double b = clock_now();
        store_result r = {.job_id = ids[i], .status = JOB_DONE, .host = "host", .rank = 1,
                          .test_loss = 0.1, .test_accuracy = 0.9, .curve = curve, .ncurve = 100,
                          .lyap = ly, .nlyap = 8, .weights = &w, .wall_seconds = 0.01};
        bad |= store_result_put(s, &r);
        put[i] = clock_now() - b;
        total += put[i];
        (void)a;
    }
    double t_all = clock_now() - tb;
    for (size_t i = 1; i < np; i++)  /* insertion sort for the median */
        for (size_t j = i; j > 0 && put[j - 1] > put[j]; j--) {
            double t = put[j];
            put[j] = put[j - 1];
            put[j - 1] = t;
        }
    check_true(!bad && np == NJ && t_all < 10.0,
               "400 x (claim + result_put: 100 curve rows, 8 exponents, N=64 weights)",
               "total %.3f s, result_put median %.3f ms, max %.3f ms; add_sweep %.3f s", t_all,
               1e3 * put[np / 2], 1e3 * put[np - 1], t_add);
    check_true(q1(path, "SELECT count(*) FROM curves") == 100.0 * NJ,
               "all 40000 curve rows present", NULL);
    rnn_params_free(&w);
    free(ids);
    free(cfgs);
    free(jobs);
    store_close(s);
}

/* Journal choice, a read-only reopen of a closed WAL database, and a file
 * made before a config key existed (column dropped here) gaining it back. */
static void test_modes(void)
{
    const char *path = tmp("modes.db");
    store *s = NULL;
    char err[STORE_ERRLEN];
    int rc = store_open(&s, path, STORE_CREATE | STORE_JOURNAL_DELETE, err);
    store_close(s);
    check_true(
        rc == STORE_OK && access(tmp("modes.db-wal"), F_OK) != 0 &&
            q1(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'delete'") == 1,
        "STORE_JOURNAL_DELETE: rollback journal", "%s", rc ? err : "");
    rc = store_open(&s, path, 0, err);
    config c = job(RULE_RFLO, 1.25, 0.5, 42);
    long sw;
    size_t added;
    if (rc == STORE_OK)
        rc = store_add_sweep(s, "m.ini", "m", 9, &c, 1, &sw, &added);
    store_close(s);
    check_true(
        rc == STORE_OK &&
            q1(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'") == 1,
        "default: WAL", "%s", rc ? err : "");
    rc = store_open(&s, path, STORE_READONLY, err);
    FILE *null = fopen("/dev/null", "w");
    int rc2 = rc == STORE_OK ? store_status_print(s, null) : -1;
    fclose(null);
    store_close(s);
    check_true(rc == STORE_OK && rc2 == STORE_OK,
               "read-only open and status of a closed WAL database", "%s", rc ? err : "");

    sql(path, "DROP VIEW success; DROP VIEW best_lr; DROP VIEW summary;"
               " ALTER TABLE jobs DROP COLUMN lyap_every;");
    rc = store_open(&s, path, 0, err);
    long *ids = NULL;
    config *cfgs = NULL;
    size_t np = 0, nsus = 0;
    if (rc == STORE_OK)
        rc = store_pending(s, 0, &ids, &cfgs, &np, &nsus);
    store_close(s);
    check_true(
        rc == STORE_OK && np == 1 && config_hash(&cfgs[0]) == config_hash(&c) &&
            q1(path, "SELECT lyap_every FROM jobs") == 0 &&
            q1(path, "SELECT count(*) FROM summary WHERE gain = 1.25 AND lyap_every = 0") == 1,
        "missing key column added back with its default; views recreated", "%s", rc ? err : "");
    free(ids);
    free(cfgs);
}

int main(void)
{
    fixture_dir("test_store");
    test_refusals();
    test_lock();
    test_cycle();
    test_claim_progress();
    test_views();
    test_modes();
    test_speed();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (check_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("store");
}
