/* test_store_open.c — opening the results database (src/store.c, src/dbfile.c)
 * on real SQLite files: what is refused, what is recovered, and the lock.
 *
 * Each check builds its files in a fresh temporary directory — with the
 * store, with a plain sqlite3 connection, or byte by byte (a journal header
 * as SQLite writes it, a damaged page) — and reads the outcome back through
 * the file system and a separate sqlite3 connection: an empty path; the
 * launch lock found through a symlink and a hard link, and its note never
 * written through a symlink or over a file that is not a note; store_check
 * refusing what a read-write open refuses while creating nothing; a dropped
 * table, a dropped column and a damaged page refused at open with the file
 * unchanged; a hot journal from the first write (conversion to WAL) and one
 * from a writer killed mid-transaction under the rollback journal,
 * recovered by read-write and read-only opens; read-only opens leaving no
 * -wal/-shm; store_finish leaving a self-contained rollback-journal file;
 * jobs whose BLOBs exceed SQLite's length limit refused, and a BLOB over the
 * limit reported as such.  Running as a user who cannot write a file or a
 * directory is covered end to end by tests/test_db.py.  Exit 1 if any
 * check fails.
 */
#include "rnnsweep/store.h"
#include "rnnsweep/config.h"
#include "rnnsweep/rnn.h"
#include "rnnsweep/task.h"

#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "store_fixture.h"

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static long long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static int same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

static void copy(const char *from, const char *to)
{
    size_t n;
    unsigned char *b = slurp(from, &n);
    if (!b) {
        perror(from);
        exit(1);
    }
    spit(to, b, n);
    free(b);
}

static config job(long seed, long hidden)
{
    config c;
    char err[CONFIG_ERRLEN];
    config_default(&c);
    c.seed = seed;
    c.hidden = hidden;
    if (config_resolve(&c, 0, err) != 0) {
        fprintf(stderr, "config_resolve: %s\n", err);
        exit(1);
    }
    return c;
}

/* A database of ours with njobs jobs, each done with a 100-row curve; flags
 * as for store_open.  The store is closed (and the file self-contained when
 * finish is set). */
static void make_db(const char *path, int flags, int njobs, int finish)
{
    store *s;
    char err[STORE_ERRLEN];
    if (store_open(&s, path, STORE_CREATE | flags, err) != STORE_OK) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    config *jobs = malloc((size_t)njobs * sizeof *jobs);
    for (int i = 0; i < njobs; i++)
        jobs[i] = job(i, 8);
    long sw;
    size_t added;
    int rc = store_add_sweep(s, "t.ini", "seed = ...", 7, jobs, (size_t)njobs, &sw, &added);
    long *ids = NULL;
    config *cfgs = NULL;
    size_t np = 0, nsus = 0;
    if (rc == STORE_OK)
        rc = store_pending(s, sw, &ids, &cfgs, &np, &nsus);
    train_curve_row curve[100];
    for (int i = 0; i < 100; i++)
        curve[i] = (train_curve_row){i, 1.0 / (i + 1), 0.5};
    for (size_t i = 0; i < np && rc == STORE_OK; i++) {
        rc = store_claim(s, ids[i], 0, "h", 0);
        store_result r = {.job_id = ids[i], .status = JOB_DONE, .host = "h", .curve = curve,
                          .ncurve = 100, .test_loss = 0.25, .test_accuracy = 0.5};
        if (rc == STORE_OK)
            rc = store_result_put(s, &r);
    }
    if (rc == STORE_OK && finish)
        rc = store_finish(s);
    if (rc != STORE_OK) {
        fprintf(stderr, "make_db %s: %s\n", path, store_errmsg(s));
        exit(1);
    }
    free(ids);
    free(cfgs);
    free(jobs);
    store_close(s);
}

/* ---------------------------------------------------------------- cases */

static void test_empty_path(void)
{
    char err[STORE_ERRLEN] = "";
    store *s = NULL;
    int a = store_open(&s, "", STORE_CREATE | STORE_LOCK, err);
    int b = store_open(&s, "", STORE_READONLY, err);
    int c = store_check("", STORE_CREATE, err);
    check_true(a == STORE_REFUSED && b == STORE_REFUSED && c == STORE_REFUSED && !s &&
                   strstr(err, "empty"),
               "empty path: refused by read-write, read-only opens and store_check", "%d %d %d: %s",
               a, b, c, err);
}

/* Any name of the file finds the lock: symlink, hard link, missing file. */
static void test_lock_names(void)
{
    const char *real = tmp("lock.db"), *sym = tmp("lock-sym.db"), *hard = tmp("lock-hard.db");
    store *a = NULL, *b = NULL;
    char err[STORE_ERRLEN], pid[64];
    make_db(real, 0, 1, 0);
    if (symlink(real, sym) != 0 || link(real, hard) != 0)
        perror("link");
    int rc = store_open(&a, real, STORE_CREATE | STORE_LOCK, err);
    check_true(rc == STORE_OK, "first launch takes the lock", "%s", rc ? err : "");
    snprintf(pid, sizeof pid, "(pid %ld on ", (long)getpid());
    refused("second launch through a symlink", sym, STORE_CREATE | STORE_LOCK, "is in use by another running sweep");
    refused("second launch through a hard link", hard, STORE_CREATE | STORE_LOCK, "is in use");
    if (unlink(real) != 0 || link(hard, real) != 0) /* the same file again under the first name */
        perror("relink");
    refused("... and the holder's note under the first name", real, STORE_LOCK, pid);
    refused("second launch through the same name", real, STORE_LOCK, "is in use");
    rc = store_open(&b, sym, STORE_READONLY, err);
    check_true(rc == STORE_OK, "a read-only open meanwhile (no lock)", "%s", rc ? err : "");
    store_close(b);
    store_close(a);
    rc = store_open(&b, hard, STORE_LOCK, err);
    check_true(rc == STORE_OK, "free again after store_close (through the hard link)", "%s",
               rc ? err : "");
    store_close(b);

    /* A database that does not exist yet: created, then locked. */
    const char *fresh = tmp("lock-new.db");
    rc = store_open(&a, fresh, STORE_CREATE | STORE_LOCK, err);
    check_true(rc == STORE_OK && fsize(fresh) > 0, "new database created and locked", "%s",
               rc ? err : "");
    refused("second launch on the new database", fresh, STORE_CREATE | STORE_LOCK, "is in use");
    store_close(a);
}

/* The note REAL.lock: written while held, removed after; never through a
 * symlink, never over other content. */
static void test_lock_note(void)
{
    const char *db = tmp("note.db"), *note = tmp("note.db.lock");
    store *s = NULL;
    char err[STORE_ERRLEN], want[64], buf[256] = "";
    make_db(db, 0, 1, 0);
    int rc = store_open(&s, db, STORE_LOCK, err);
    FILE *f = fopen(note, "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f))
            buf[0] = 0;
        fclose(f);
    }
    snprintf(want, sizeof want, "pid %ld on ", (long)getpid());
    check_true(rc == STORE_OK && strncmp(buf, want, strlen(want)) == 0,
               "note 'pid N on HOST' while held", "%s", buf);
    store_close(s);
    check_true(!exists(note), "note removed when the lock is released", NULL);

    const char *victim = tmp("victim.txt"), *orig = tmp("victim.orig");
    spit(victim, "precious\n", 9);
    spit(orig, "precious\n", 9);
    if (symlink(victim, note) != 0)
        perror("symlink");
    rc = store_open(&s, db, STORE_LOCK, err);
    store_close(s);
    struct stat st;
    check_true(
        rc == STORE_OK && same_file(victim, orig) && lstat(note, &st) == 0 && S_ISLNK(st.st_mode),
        "NAME.lock a symlink: target untouched, link left, lock still taken", "%s", rc ? err : "");
    unlink(note);

    spit(note, "my own notes\n", 13);
    const char *keep = tmp("note-copy.txt");
    copy(note, keep);
    rc = store_open(&s, db, STORE_LOCK, err);
    store_close(s);
    check_true(rc == STORE_OK && same_file(note, keep),
               "NAME.lock with other content: left as it was", "%s", rc ? err : "");
    unlink(note);

    spit(note, "pid 1 on oldhost\n", 17); /* PATH.lock of an earlier version */
    rc = store_open(&s, db, STORE_LOCK, err);
    int rewritten = fsize(note) > 0 && !same_file(note, keep);
    store_close(s);
    check_true(rc == STORE_OK && rewritten && !exists(note),
               "an earlier version's PATH.lock: reused, removed", "%s", rc ? err : "");
}

/* store_check refuses what a read-write open refuses, creating nothing. */
static void test_check(void)
{
    char err[STORE_ERRLEN] = "";
    const char *nodir = tmp("nodir/sub/x.db");
    int rc = store_check(nodir, STORE_CREATE, err);
    check_true(rc == STORE_REFUSED && strstr(err, "does not exist") && !exists(tmp("nodir")),
               "store_check: missing directory refused", "%s", err);
    const char *fresh = tmp("check-new.db");
    rc = store_check(fresh, STORE_CREATE, err);
    check_true(rc == STORE_OK && !exists(fresh),
               "store_check: missing file in a good directory: ok, not created", "%s",
               rc ? err : "");
    rc = store_check(fresh, 0, err);
    check_true(rc == STORE_REFUSED && strstr(err, "no such database"),
               "store_check without STORE_CREATE: missing file refused", "%s", err);
    const char *good = tmp("check-good.db");
    make_db(good, 0, 2, 0);
    const char *before = tmp("check-good.copy");
    copy(good, before);
    rc = store_check(good, STORE_CREATE, err);
    check_true(rc == STORE_OK && same_file(good, before) && !exists(tmp("check-good.db-wal")) &&
                   !exists(tmp("check-good.db-shm")),
               "store_check: good database ok, unchanged, no side files left", "%s", rc ? err : "");
    const char *foreign = tmp("foreign-wal.db");
    sql(foreign, "PRAGMA journal_mode = WAL; CREATE TABLE notes(x); INSERT INTO notes VALUES ('mine')");
    refused("another application's WAL database", foreign, STORE_CREATE | STORE_LOCK, "not an rnnsweep");
    refused("... read-only", foreign, STORE_READONLY, "not an rnnsweep");
    rc = store_check(foreign, STORE_CREATE, err);
    check_true(rc == STORE_REFUSED && !exists(tmp("foreign-wal.db-wal")) &&
                   !exists(tmp("foreign-wal.db-shm")) && !exists(tmp("foreign-wal.db.lock")),
               "refused WAL database: no -wal, -shm or note left behind", "%s", err);
    rc = store_check(dir, STORE_CREATE, err);
    check_true(rc == STORE_REFUSED && strstr(err, "not a regular file"),
               "store_check: a directory refused", "%s", err);
}

/* Damage found at open, before anything is written. */
static void test_damage(void)
{
    char err[STORE_ERRLEN] = "";
    const char *t = tmp("dropped.db");
    make_db(t, 0, 2, 1);
    sql(t, "DROP TABLE lyapunov");
    refused("a dropped table", t, STORE_CREATE | STORE_LOCK, "table 'lyapunov' is missing");
    refused("a dropped table, read-only", t, STORE_READONLY, "table 'lyapunov' is missing");
    int rc = store_check(t, STORE_CREATE, err);
    check_true(rc == STORE_REFUSED && strstr(err, "lyapunov"), "store_check: a dropped table", "%s",
               err);

    const char *c = tmp("dropcol.db");
    make_db(c, 0, 2, 1);
    sql(c, "ALTER TABLE runs DROP COLUMN command");
    refused("a dropped column", c, STORE_CREATE | STORE_LOCK, "column runs.command is missing");

    /* A damaged page: the root page of curves overwritten. */
    const char *p = tmp("corrupt.db");
    make_db(p, STORE_JOURNAL_DELETE, 40, 1);
    long root = (long)q1(p, "SELECT rootpage FROM sqlite_master WHERE name = 'curves'");
    long psz = (long)q1(p, "PRAGMA page_size");
    size_t n;
    unsigned char *b = slurp(p, &n);
    if (b && root > 1 && (size_t)(root * psz) <= n) {
        memset(b + (root - 1) * psz + 8, 0xA5, 40); /* cell pointers of an interior or leaf page */
        spit(p, b, n);
    }
    free(b);
    refused("a damaged page (PRAGMA quick_check)", p, STORE_CREATE | STORE_LOCK, "damaged");
    rc = store_check(p, STORE_CREATE, err);
    check_true(rc == STORE_REFUSED && strstr(err, "quick_check"), "store_check: a damaged page",
               "%s", err);
}

/* The first write killed: a WAL-mode header and the hot journal of that
 * conversion (original size 0 pages), as SQLite leaves them. */
static void make_first_write_crash(const char *path)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", path, sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_close(db);
    unsigned char j[512] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7, /* magic */
                            0, 0, 0, 0,                                     /* records */
                            0x12, 0x34, 0x56, 0x78,                         /* nonce */
                            0, 0, 0, 0,                                     /* pages before: 0 */
                            0, 0, 2, 0,                                     /* sector 512 */
                            0, 0, 0x10, 0};                                 /* page 4096 */
    char jp[600];
    snprintf(jp, sizeof jp, "%s-journal", path);
    spit(jp, j, sizeof j);
}

static void test_first_write_crash(void)
{
    char err[STORE_ERRLEN] = "", jp[600];
    const char *a = tmp("first.db");
    make_first_write_crash(a);
    snprintf(jp, sizeof jp, "%s-journal", a);
    store *s = NULL;
    int rc = store_open(&s, a, STORE_CREATE | STORE_LOCK, err);
    store_close(s);
    check_true(rc == STORE_OK && !exists(jp) && q1(a, "PRAGMA application_id") == 0x524E5357,
               "first write killed: the next launch recovers and creates the schema", "%s",
               rc ? err : "");

    const char *b = tmp("first-ro.db");
    make_first_write_crash(b);
    snprintf(jp, sizeof jp, "%s-journal", b);
    rc = store_open(&s, b, STORE_READONLY, err);
    store_close(s);
    check_true(rc == STORE_REFUSED && strstr(err, "empty database") && !exists(jp),
               "first write killed: status rolls the journal back (then: empty database)", "%s",
               err);

    const char *c = tmp("first-check.db");
    make_first_write_crash(c);
    rc = store_check(c, STORE_CREATE, err);
    check_true(rc == STORE_OK, "first write killed: store_check passes", "%s", rc ? err : "");
}

/* A writer killed mid-transaction under the rollback journal. */
static void test_killed_writer(void)
{
    char err[STORE_ERRLEN] = "", jp[600];
    const char *p = tmp("killed.db");
    make_db(p, STORE_JOURNAL_DELETE, 40, 0);
    double loss0 = q1(p, "SELECT sum(loss) FROM curves");
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *db;
        sqlite3_open(p, &db);
        sqlite3_exec(db, "PRAGMA cache_size = 2; BEGIN; UPDATE curves SET loss = loss + 1;", NULL,
                     NULL, NULL);
        kill(getpid(), SIGKILL);
        _exit(1);
    }
    int status;
    waitpid(pid, &status, 0);
    snprintf(jp, sizeof jp, "%s-journal", p);
    int hot = fsize(jp) > 0;
    store *s = NULL;
    int rc = store_open(&s, p, STORE_READONLY, err);
    FILE *null = fopen("/dev/null", "w");
    int rc2 = rc == STORE_OK ? store_status_print(s, null) : -1;
    fclose(null);
    store_close(s);
    double loss1 = q1(p, "SELECT sum(loss) FROM curves");
    check_true(hot && WIFSIGNALED(status) && rc == STORE_OK && rc2 == STORE_OK && !exists(jp) &&
                   loss1 == loss0,
               "writer killed mid-transaction (journal delete): read-only open rolls back",
               "hot %d,"
               " sum(loss) %.6g -> %.6g: %s",
               hot, loss0, loss1, rc ? err : "");
}

/* Read-only opens leave no side files and cannot write. */
static void test_readonly(void)
{
    char err[STORE_ERRLEN] = "";
    const char *p = tmp("ro.db");
    make_db(p, 0, 2, 0); /* WAL mode, closed */
    store *s = NULL;
    int rc = store_open(&s, p, STORE_READONLY, err);
    long sw;
    size_t added;
    config c = job(99, 8);
    int w = rc == STORE_OK ? store_add_sweep(s, "x.ini", "x", 1, &c, 1, &sw, &added) : -1;
    check_true(rc == STORE_OK && w == STORE_ERROR && strstr(store_errmsg(s), "readonly"),
               "read-only open cannot write", "%s", rc ? err : store_errmsg(s));
    store_close(s);
    check_true(!exists(tmp("ro.db-wal")) && !exists(tmp("ro.db-shm")),
               "read-only open of a WAL database leaves no -wal, -shm", NULL);
}

static void test_finish(void)
{
    char err[STORE_ERRLEN] = "";
    const char *p = tmp("finish.db");
    make_db(p, 0, 2, 0);
    store *s = NULL, *r = NULL;
    int rc = store_open(&s, p, STORE_LOCK, err);
    int busy = STORE_OK;
    char msg[STORE_ERRLEN] = "";
    if (rc == STORE_OK && store_open(&r, p, STORE_READONLY, err) == STORE_OK) {
        busy = store_finish(s); /* a reader has it open: stays WAL */
        snprintf(msg, sizeof msg, "%s", store_errmsg(s));
        store_close(r);
    }
    int fin = rc == STORE_OK ? store_finish(s) : -1;
    int during = exists(tmp("finish.db-wal"));
    store_close(s);
    size_t n;
    unsigned char *b = slurp(p, &n);
    int hdr = b && n >= 100 && b[18] == 1 && b[19] == 1;
    free(b);
    check_true(rc == STORE_OK && busy == STORE_ERROR && fin == STORE_OK && !during && hdr &&
                   !exists(tmp("finish.db-wal")),
               "store_finish: rollback journal, no -wal (with a reader open: an error, WAL kept)",
               "busy %d (%s) fin %d header %d: %s", busy, msg, fin, hdr, rc ? err : "");
}

/* BLOBs over SQLite's length limit. */
static void test_sizes(void)
{
    char err[STORE_ERRLEN] = "";
    int T, I, O;
    task_dims(TASK_ROMO, &T, &I, &O);
    /* The largest N whose five parameter copies fit in 1e9 bytes, by a naive search. */
    long best = 0;
    for (long N = 1; N < 20000; N++)
        if (40.0 * (double)rnn_params_size((int)N, I, O) <= 1e9)
            best = N;
    config big = job(0, 6000), ok = job(0, 4000);
    char want[64];
    snprintf(want, sizeof want, "largest storable: hidden = %ld", best);
    int a = store_check_job(NULL, &big, 1, err);
    check_true(a == STORE_REFUSED && strstr(err, "key 'hidden' = 6000") && strstr(err, want),
               "hidden = 6000 refused (checkpoint over 1e9 bytes)", "%s", err);
    int b = store_check_job(NULL, &ok, 1, err);
    check_true(b == STORE_OK, "hidden = 4000 fits", NULL);

    const char *p = tmp("limit.db");
    make_db(p, 0, 1, 0);
    store *s = NULL;
    int rc = store_open(&s, p, STORE_LOCK, err);
    size_t lim = rc == STORE_OK ? store_blob_limit(s, 100000) : 0;
    config small = job(0, 64);
    int c = rc == STORE_OK ? store_check_job(s, &small, 1, err) : -1;
    check_true(lim == 100000 && c == STORE_REFUSED && strstr(err, "key 'hidden' = 64"),
               "the store's own limit counts (100 kB: hidden = 64 refused)", "%s", err);

    /* A checkpoint over the limit: "too big", and the stored one kept. */
    long *ids = NULL;
    config *cfgs = NULL;
    size_t np = 0, nsus = 0;
    sql(p, "UPDATE jobs SET status = 'pending'");
    static unsigned char ck[200000];
    memset(ck, 7, sizeof ck);
    train_curve_row row = {5, 0.5, 0.5};
    store_result r = {.status = JOB_PENDING, .curve = &row, .ncurve = 1, .test_loss = NAN,
                      .test_accuracy = NAN, .checkpoint = ck, .checkpoint_size = 1000};
    int put1 = -1, put2 = -1;
    if (rc == STORE_OK && store_pending(s, 0, &ids, &cfgs, &np, &nsus) == STORE_OK && np == 1) {
        r.job_id = ids[0];
        store_claim(s, ids[0], 0, "h", 0);
        put1 = store_result_put(s, &r);
        store_claim(s, ids[0], 0, "h", 0);
        r.checkpoint_size = sizeof ck;
        put2 = store_result_put(s, &r);
    }
    check_true(put1 == STORE_OK && put2 == STORE_ERROR && strstr(store_errmsg(s), "too big") &&
                   q1(p, "SELECT length(data) FROM checkpoints") == 1000,
               "a checkpoint over the limit: bind error 'too big', old checkpoint kept", "%s",
               s ? store_errmsg(s) : err);
    free(ids);
    free(cfgs);
    store_close(s);
}

int main(void)
{
    fixture_dir("test_store_open");
    test_empty_path();
    test_lock_names();
    test_lock_note();
    test_check();
    test_damage();
    test_first_write_crash();
    test_killed_writer();
    test_readonly();
    test_finish();
    test_sizes();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (check_failures == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("store_open");
}
