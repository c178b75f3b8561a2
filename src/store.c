/* store.c — the store handle: opening with every check first, the launch lock, limits, close.
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
 * schema check (every table and column of schema 1, store_schema.c) and
 * PRAGMA quick_check, so a damaged file is refused before anything is
 * claimed.  Only then the journal mode and the schema updates are written.
 * With synchronous=NORMAL in WAL a commit does not fsync (a power cut may
 * lose the last results, never corrupt the file; the jobs rerun).  On
 * NFS/Lustre use STORE_JOURNAL_DELETE (rollback journal, synchronous=FULL).
 *
 * Read-only opens (status, export) never create side files for a database
 * they cannot write: when this user may write the file and its directory,
 * they open it read-write with PRAGMA query_only (so SQLite recovers a
 * crashed writer's journal or WAL, and removes its -wal and -shm at close
 * like any last connection); otherwise with mode=ro, or immutable=1 for a
 * WAL database whose -wal is absent (a finished database in a read-only
 * place), and a file that needs recovery is refused with the reason.
 */
#include "store_int.h"

#include "rnnsweep/task.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        return sq_fail(s, STORE_REFUSED, "not an SQLite database");
    if (fs->app_id != STORE_APP_ID && fs->app_id != 0)
        return sq_fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x)",
                    (unsigned)fs->app_id);
    if (fs->app_id == STORE_APP_ID && fs->user_version > STORE_SCHEMA)
        return sq_fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)",
                    (int)fs->user_version, STORE_SCHEMA);
    if (fs->app_id == 0 && fs->journal && fs->journal_pages != 0)
        return sq_fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0, with a"
                    " rollback journal %s-journal of another program)", fs->real);
    return STORE_OK;
}

/* Every check of a read-write open that looks at files only: creates and
 * writes nothing.  fs receives what is on disk. */
static int check_files_rw(store *s, dbfile_state *fs)
{
    char why[DBFILE_ERRLEN];
    if (dbfile_stat(s->path, fs, why) != STORE_OK)
        return sq_fail(s, STORE_REFUSED, "%s", why);
    if (!fs->exists) {
        if (!(s->flags & STORE_CREATE))
            return sq_fail(s, STORE_REFUSED, "no such database");
        if (!fs->dir_exists)
            return sq_fail(s, STORE_REFUSED, "directory %s does not exist", fs->dir);
        if (!fs->dir_w)
            return sq_fail(s, STORE_REFUSED, "cannot create: the directory %s is not writable", fs->dir);
        return STORE_OK;
    }
    if (!fs->regular)
        return sq_fail(s, STORE_REFUSED, "not a regular file");
    int rc = check_header(s, fs);
    if (rc == STORE_OK && !fs->file_w)
        rc = sq_fail(s, STORE_REFUSED, "not writable: %s", strerror(EACCES));
    if (rc == STORE_OK && !fs->dir_w)
        rc = sq_fail(s, STORE_REFUSED, "cannot write: the directory %s is not writable (SQLite keeps"
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
        return s->db ? sq_fail(s, STORE_REFUSED, "cannot open: %s", sqlite3_errmsg(s->db))
                     : sq_fail(s, STORE_ERROR, "out of memory");
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
        return sq_fail(s, STORE_ERROR, "%s: %s", what, msg);
    if (prim == SQLITE_NOTADB)
        return sq_fail(s, STORE_REFUSED, "not an SQLite database (%s)", msg);
    if (prim == SQLITE_CORRUPT)
        return sq_fail(s, STORE_REFUSED, "the database is damaged (%s); restore it from a copy", msg);
    if (prim == SQLITE_READONLY || prim == SQLITE_CANTOPEN) {
        const char *side = fs->journal ? "-journal" : fs->wal_file ? "-wal" : NULL;
        if (side)
            return sq_fail(s, STORE_REFUSED,
                        "%s%s, left by a writer that died, must be recovered before the database"
                        " can be read, and this user cannot write the file and its directory %s:"
                        " run rnnsweep status on it once as a user who can (%s)",
                        fs->real, side, fs->dir, msg);
    }
    return sq_fail(s, STORE_REFUSED, "cannot read it: %s", msg);
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
    int rc = sq_query_int(s, "PRAGMA application_id", &app);
    if (rc == STORE_OK)
        rc = sq_query_int(s, "PRAGMA user_version", &ver);
    if (rc == STORE_OK)
        rc = sq_query_int(s, "SELECT count(*) FROM sqlite_master", &ntab);
    if (rc != STORE_OK)
        return read_failure(s, fs, "read the header");
    if (app == 0 && ver == 0 && ntab == 0) {
        *fresh = 1;
    } else if (app != STORE_APP_ID) {
        return sq_fail(s, STORE_REFUSED, "not an rnnsweep database (application_id 0x%08x, %lld"
                    " tables)", (unsigned)app, (long long)ntab);
    } else if (ver > STORE_SCHEMA) {
        return sq_fail(s, STORE_REFUSED, "written by a newer rnnsweep (schema %d > %d)", (int)ver,
                    STORE_SCHEMA);
    } else if ((rc = schema_check(s)) != STORE_OK) {
        return rc;
    }
    if (full && !*fresh) {
        char why[DBFILE_ERRLEN];
        rc = dbfile_quick_check(s->db, why);
        if (rc == STORE_REFUSED)
            return sq_fail(s, STORE_REFUSED, "the database is damaged (PRAGMA quick_check: %s);"
                        " restore it from a copy", why);
        if (rc != STORE_OK)
            return sq_fail(s, STORE_ERROR, "%s", why);
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
            return sq_fail(s, rc, "%s", why);
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
        rc = sq_exec(s, "PRAGMA journal_mode = DELETE; PRAGMA synchronous = FULL", "set the journal");
    else
        rc = sq_exec(s, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL", "set the journal");
    if (rc == STORE_OK)
        rc = sq_exec(s, "PRAGMA foreign_keys = ON", "enable foreign keys");
    if (rc == STORE_OK)
        rc = schema_init(s);
    return rc;
}

/* Connect for reading without side files for a database this user cannot
 * write (see the top of the file). */
static int connect_ro(store *s, const dbfile_state *fs)
{
    if (fs->file_w && fs->dir_w) {
        int rc = connect_db(s, fs, s->path, SQLITE_OPEN_READWRITE);
        return rc == STORE_OK ? sq_exec(s, "PRAGMA query_only = 1", "open read-only") : rc;
    }
    if (fs->wal && fs->wal_file && !fs->shm_file)
        return sq_fail(s, STORE_REFUSED,
                    "%s-wal, left by a writer, needs %s-shm to be read, and this user cannot"
                    " create it in %s: run rnnsweep status on it once as a user who can",
                    fs->real, fs->real, fs->dir);
    const char *params = fs->wal && !fs->wal_file ? "immutable=1" : "mode=ro";
    char *uri = dbfile_uri(s->path, params);
    if (!uri)
        return sq_fail(s, STORE_ERROR, "out of memory");
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
        return sq_fail(s, STORE_REFUSED, "%s", why);
    if (!fs.exists)
        return sq_fail(s, STORE_REFUSED, "no such database");
    if (!fs.regular)
        return sq_fail(s, STORE_REFUSED, "not a regular file");
    int fresh = 0, rc = check_header(s, &fs);
    if (rc == STORE_OK)
        rc = connect_ro(s, &fs);
    if (rc == STORE_OK)
        rc = check_content(s, &fs, 0, &fresh);
    if (rc == STORE_OK && fresh)
        rc = sq_fail(s, STORE_REFUSED, "empty database (no rnnsweep schema yet)");
    if (rc == STORE_OK)
        rc = schema_scan_columns(s);
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
    *rc = schema_check_keys(s);
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
        rc = sq_step(s, st);
    const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    if (mode && strcmp(mode, "delete") == 0)
        rc = STORE_OK;
    else if (mode)
        rc = sq_fail(s, STORE_ERROR, "the journal stays '%s' (another process has the file open)",
                  mode);
    else
        rc = sq_sqlfail(s, "switch the journal to delete");
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

