/* dbfile.h — the database file beneath SQLite (internal to the store module).
 *
 * What the store (store.c) needs to know about the files before SQLite
 * touches them (permissions, the 100-byte header, a rollback journal or write-ahead log
 * left by a writer that died), the launch lock on the database file itself
 * with its note for people, URIs for read-only opening, SQLite's busy
 * handler with a bounded, logged wait, and PRAGMA quick_check.  Return codes
 * are enum store_rc values; messages go to `why` (DBFILE_ERRLEN bytes)
 * without the path in front, which the store adds.
 */
#ifndef RNNSWEEP_DBFILE_H
#define RNNSWEEP_DBFILE_H

#include <sqlite3.h>
#include <stdint.h>

#define DBFILE_ERRLEN 400

/* Byte of the database file that carries the launch lock.  SQLite's own
 * locks on the file are at 0x40000000..0x400001ff; this byte is never one of
 * them, and an advisory lock does not stop anyone reading or writing it. */
#define DBFILE_LOCK_BYTE 0x7FFFFFF0L

/* What lies on disk at a database path (dbfile_stat).  `real` is the path
 * with every symlink resolved (the given path if the file is missing);
 * SQLite keeps its side files next to it. */
typedef struct dbfile_state {
    char real[4096], dir[4096];
    int exists, regular;       /* something is at the path; a regular file */
    long long size;            /* bytes */
    int file_w, dir_exists, dir_w; /* this user may write the file; its directory exists, is writable */
    /* Header (size >= 100): */
    int sqlite;                /* a valid SQLite 3 header */
    int wal;                   /* header says WAL mode (bytes 18/19 = 2) */
    uint32_t app_id, user_version;
    /* Side files left next to it: */
    int journal;               /* REAL-journal that SQLite would roll back (size > 0, first byte != 0) */
    long long journal_pages;   /* its "database size before the transaction" in pages; -1 unknown */
    int wal_file, shm_file;    /* REAL-wal, REAL-shm exist */
    long long wal_size;
} dbfile_state;

/* Look at path without creating, writing or locking anything.  STORE_OK, or
 * STORE_REFUSED with why when the path cannot even be examined (a component
 * is not a directory, permission denied, ...).  A missing file is STORE_OK
 * with exists = 0. */
int dbfile_stat(const char *path, dbfile_state *fs, char why[DBFILE_ERRLEN]);

/* The launch lock: an open-file-description lock (F_OFD_SETLK) on
 * DBFILE_LOCK_BYTE of the database file itself, so every name of the file
 * (symlinks, hard links) finds it; released when the holder exits or dies.
 * dbfile_lock opens path read-write, creating it empty if missing and
 * `create`.  STORE_REFUSED with why "is in use by another running sweep (pid
 * N on HOST)" when held, or why the file cannot be locked (ENOLCK: a file
 * system without working locks). */
typedef struct dbfile_lock dbfile_lock;
int dbfile_lock_take(const char *path, int create, dbfile_lock **out, char why[DBFILE_ERRLEN]);

/* Leave the note "pid N on HOST" in REAL.lock for people, if that name is
 * free, an empty regular file, or an earlier note: never through a symlink
 * (O_NOFOLLOW), never into a file with other content or other links.  The
 * note is optional; failures are silent. */
void dbfile_lock_note(dbfile_lock *l, const char *real);

/* Release the lock and remove the note written by this holder.  NULL is a
 * no-op.  Call after closing SQLite's connection: closing a descriptor of
 * the database file drops the process's POSIX locks on it (SQLite's). */
void dbfile_lock_release(dbfile_lock *l);

/* "file:" URI for path with the query `params` (e.g. "mode=ro",
 * "immutable=1"): malloc'ed, NULL when out of memory. */
char *dbfile_uri(const char *path, const char *params);

/* SQLite busy handler state: waits with backoff (1 ms doubling to 100 ms)
 * up to `budget` seconds per lock, logging on stderr once a wait passes 1 s
 * and when it gives up.  Install with
 * sqlite3_busy_handler(db, dbfile_busy_handler, &busy). */
typedef struct dbfile_busy {
    const char *path;
    double budget;      /* seconds */
    double start;       /* monotonic time of the current wait */
    int logged;         /* this wait was announced */
} dbfile_busy;
int dbfile_busy_handler(void *busy, int count);

/* A sleep of `attempt`'s backoff step (1 ms doubling to 100 ms), for retry
 * loops that share the busy budget (timed with clock_now, rnnsweep/clock.h). */
void dbfile_backoff(int attempt);

/* PRAGMA quick_check: STORE_OK, STORE_REFUSED with the first problem found
 * (a damaged page or index), or STORE_ERROR when SQLite cannot run it. */
int dbfile_quick_check(sqlite3 *db, char why[DBFILE_ERRLEN]);

#endif
