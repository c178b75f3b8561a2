/* dbfile.c — the database file beneath SQLite: what is on disk, the launch
 * lock, read-only URIs, bounded waits for locks, quick_check.
 *
 * The store (store.c) decides what to open and how; this file looks at
 * files and holds the lock.  Nothing here creates or writes anything except
 * dbfile_lock_take (a missing database file, created empty when asked) and the lock note
 * (REAL.lock, REAL the database path with symlinks resolved), which
 * dbfile_lock_release removes again.
 *
 * The lock.  One launch at a time may write a database, whatever name it
 * uses for it: the lock is an open-file-description lock on one byte of the
 * database file itself (DBFILE_LOCK_BYTE, a byte SQLite never locks), so a
 * symlink, a hard link or another relative path all find it, and the kernel
 * drops it when the holder dies.  OFD locks are per open file description,
 * not per process, so SQLite opening and closing its own descriptors of the
 * file neither takes nor drops it; on NFS they are ordinary byte-range
 * locks through the lock manager (no lockd, no lock: ENOLCK is refused).
 * The lock file PATH.lock of earlier versions is no longer the lock; the
 * note that replaced it has the same one-line form ("pid N on HOST"), so an
 * old PATH.lock at REAL.lock is reused as a note, and anything else there is
 * left alone.
 */
#include "dbfile.h"
#include "rnnsweep/clock.h"

#include "rnnsweep/store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct dbfile_lock {
    int fd;          /* the database file, holding the OFD lock */
    int note_fd;     /* REAL.lock written by us, or -1 */
    char *note;      /* its path */
};

static const unsigned char journal_magic[8] = {0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Read up to n bytes from the start of a regular file without blocking on
 * FIFOs or following nothing special; -1 if it cannot be opened. */
static long read_head(const char *path, unsigned char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct stat st;
    long got = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        got = (long)pread(fd, buf, n, 0);
    close(fd);
    return got;
}

/* The header fields SQLite itself insists on (fileformat.html §1.3). */
static int header_valid(const unsigned char *h)
{
    if (memcmp(h, "SQLite format 3", 16) != 0)
        return 0;
    unsigned ps = (unsigned)h[16] << 8 | h[17];
    if (!(ps == 1 || (ps >= 512 && ps <= 32768 && (ps & (ps - 1)) == 0)))
        return 0;
    if (h[18] < 1 || h[18] > 2 || h[19] < 1 || h[19] > 2)
        return 0;
    return h[21] == 64 && h[22] == 32 && h[23] == 32;
}

static void side_files(dbfile_state *fs)
{
    char p[sizeof fs->real + 16];
    struct stat st;
    unsigned char jh[28];
    snprintf(p, sizeof p, "%s-journal", fs->real);
    long n = read_head(p, jh, sizeof jh);
    fs->journal = n > 0 && jh[0] != 0;
    fs->journal_pages = -1;
    if (fs->journal && n == (long)sizeof jh && memcmp(jh, journal_magic, 8) == 0)
        fs->journal_pages = be32(jh + 16);
    snprintf(p, sizeof p, "%s-wal", fs->real);
    fs->wal_file = lstat(p, &st) == 0;
    fs->wal_size = fs->wal_file ? (long long)st.st_size : 0;
    snprintf(p, sizeof p, "%s-shm", fs->real);
    fs->shm_file = lstat(p, &st) == 0;
}

int dbfile_stat(const char *path, dbfile_state *fs, char why[DBFILE_ERRLEN])
{
    memset(fs, 0, sizeof *fs);
    fs->journal_pages = -1;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(why, DBFILE_ERRLEN, "%s", strerror(errno));
            return STORE_REFUSED;
        }
        struct stat lst;
        if (lstat(path, &lst) == 0) { /* a symlink to nothing */
            snprintf(why, DBFILE_ERRLEN, "a symlink to a missing file");
            return STORE_REFUSED;
        }
        snprintf(fs->real, sizeof fs->real, "%s", path);
    } else {
        fs->exists = 1;
        fs->regular = S_ISREG(st.st_mode);
        fs->size = (long long)st.st_size;
        if (!realpath(path, fs->real)) {
            snprintf(why, DBFILE_ERRLEN, "cannot resolve the path: %s", strerror(errno));
            return STORE_REFUSED;
        }
        fs->file_w = access(path, W_OK) == 0;
    }
    char copy[sizeof fs->real];
    snprintf(copy, sizeof copy, "%s", fs->real);
    snprintf(fs->dir, sizeof fs->dir, "%s", dirname(copy));
    struct stat dst;
    fs->dir_exists = stat(fs->dir, &dst) == 0 && S_ISDIR(dst.st_mode);
    fs->dir_w = fs->dir_exists && access(fs->dir, W_OK | X_OK) == 0;
    if (!fs->exists || !fs->regular)
        return STORE_OK;
    unsigned char h[100];
    long n = read_head(path, h, sizeof h);
    if (n < 0) {
        snprintf(why, DBFILE_ERRLEN, "cannot read: %s", strerror(errno));
        return STORE_REFUSED;
    }
    if (n == (long)sizeof h && header_valid(h)) {
        fs->sqlite = 1;
        fs->wal = h[18] == 2 || h[19] == 2;
        fs->user_version = be32(h + 60);
        fs->app_id = be32(h + 68);
    }
    side_files(fs);
    return STORE_OK;
}

/* ---------------------------------------------------------------- the lock */

/* Is buf (n bytes) a note of ours: one line "pid N on HOST\n"? */
static int is_note(const char *buf, long n)
{
    if (n < 10 || n > 200 || strncmp(buf, "pid ", 4) != 0 || buf[n - 1] != '\n')
        return 0;
    long i = 4;
    while (i < n && buf[i] >= '0' && buf[i] <= '9')
        i++;
    if (i == 4 || strncmp(buf + i, " on ", 4) != 0)
        return 0;
    for (i += 4; i < n - 1; i++)
        if (buf[i] == '\n' || buf[i] == 0)
            return 0;
    return 1;
}

/* "pid N on HOST" from REAL.lock, or "" when there is no note of ours. */
static void read_note(const char *path, char *who, size_t n)
{
    char real[PATH_MAX], note[PATH_MAX + 8], buf[256];
    who[0] = 0;
    if (!realpath(path, real))
        return;
    snprintf(note, sizeof note, "%s.lock", real);
    int fd = open(note, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    long got = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (long)pread(fd, buf, sizeof buf, 0) : -1;
    close(fd);
    if (got > 0 && is_note(buf, got))
        snprintf(who, n, "%.*s", (int)got - 1, buf);
}

int dbfile_lock_take(const char *path, int create, dbfile_lock **out, char why[DBFILE_ERRLEN])
{
    *out = NULL;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (create ? O_CREAT : 0), 0644);
    if (fd < 0) {
        snprintf(why, DBFILE_ERRLEN, "cannot open it to take the launch lock: %s", strerror(errno));
        return STORE_REFUSED;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(why, DBFILE_ERRLEN, "not a regular file");
        return STORE_REFUSED;
    }
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = DBFILE_LOCK_BYTE,
                       .l_len = 1, .l_pid = 0};
    int rc = fcntl(fd, F_OFD_SETLK, &fl);
    if (rc != 0 && errno == EINVAL) /* a kernel before 3.15: whole-file flock instead */
        rc = flock(fd, LOCK_EX | LOCK_NB);
    if (rc != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES || e == EWOULDBLOCK) {
            char who[200];
            read_note(path, who, sizeof who);
            if (*who)
                snprintf(why, DBFILE_ERRLEN, "is in use by another running sweep (%s)", who);
            else
                snprintf(why, DBFILE_ERRLEN, "is in use by another running sweep (no note of"
                         " who holds it)");
        } else {
            snprintf(why, DBFILE_ERRLEN, "cannot take the launch lock: %s%s", strerror(e),
                     e == ENOLCK ? " (a file system without working locks, e.g. NFS without lockd)"
                                 : "");
        }
        return STORE_REFUSED;
    }
    dbfile_lock *l = calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        snprintf(why, DBFILE_ERRLEN, "out of memory");
        return STORE_ERROR;
    }
    l->fd = fd;
    l->note_fd = -1;
    *out = l;
    return STORE_OK;
}

void dbfile_lock_note(dbfile_lock *l, const char *real)
{
    if (!l || l->note_fd >= 0)
        return;
    size_t n = strlen(real) + 6;
    char *note = malloc(n);
    if (!note)
        return;
    snprintf(note, n, "%s.lock", real);
    int fd = open(note, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0644);
    struct stat st;
    char old[256];
    long got = 0;
    int ours = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1;
    if (ours && st.st_size > 0) {
        got = (long)pread(fd, old, sizeof old, 0);
        ours = got > 0 && is_note(old, got);
    }
    char host[256] = "?", who[320];
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    int len = snprintf(who, sizeof who, "pid %ld on %s\n", (long)getpid(), host);
    if (!ours || ftruncate(fd, 0) != 0 || pwrite(fd, who, (size_t)len, 0) != len) {
        if (fd >= 0)
            close(fd);
        free(note);
        return;
    }
    l->note_fd = fd;
    l->note = note;
}

void dbfile_lock_release(dbfile_lock *l)
{
    if (!l)
        return;
    if (l->note_fd >= 0) {
        struct stat a, b;
        if (lstat(l->note, &a) == 0 && fstat(l->note_fd, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino)
            unlink(l->note); /* ours: written by this holder, still the same file */
        close(l->note_fd);
    }
    close(l->fd); /* releases the lock */
    free(l->note);
    free(l);
}

/* ---------------------------------------------------------------- URIs */

char *dbfile_uri(const char *path, const char *params)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(path), m = strlen(params);
    char *u = malloc(8 + 3 * n + 1 + m + 1);
    if (!u)
        return NULL;
    /* An absolute path gets an empty authority, so one starting "//" stays a path. */
    char *w = u + sprintf(u, path[0] == '/' ? "file://" : "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("/._~-", *p)) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    sprintf(w, "?%s", params);
    return u;
}

/* ---------------------------------------------------------------- waiting for locks */

void dbfile_backoff(int attempt)
{
    long ms = attempt < 7 ? 1L << attempt : 100;
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0 && errno == EINTR) {
    }
}

int dbfile_busy_handler(void *ctx, int count)
{
    dbfile_busy *b = ctx;
    double now = clock_now();
    if (count == 0) {
        b->start = now;
        b->logged = 0;
    }
    double waited = now - b->start;
    if (waited >= b->budget) {
        fprintf(stderr, "[store] %s: still locked by another process after %.0f s; giving up\n",
                b->path, waited);
        return 0;
    }
    if (!b->logged && waited >= 1.0) {
        fprintf(stderr,
                "[store] %s: locked by another process (a reader or a writer); waiting up to %.0f s\n",
                b->path, b->budget);
        b->logged = 1;
    }
    dbfile_backoff(count);
    return 1;
}

/* ---------------------------------------------------------------- integrity */

int dbfile_quick_check(sqlite3 *db, char why[DBFILE_ERRLEN])
{
    sqlite3_stmt *st = NULL;
    int bad = 0, rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(2)", -1, &st, NULL);
    why[0] = 0;
    while (st && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *msg = (const char *)sqlite3_column_text(st, 0);
        if (!msg || strcmp(msg, "ok") == 0 || bad)
            continue;
        /* The first problem, on one line, without the "*** in database main ***" banner. */
        const char *banner = "*** in database main ***\n";
        if (strncmp(msg, banner, strlen(banner)) == 0)
            msg += strlen(banner);
        snprintf(why, 160, "%s", msg);
        for (char *c = why; *c; c++)
            if (*c == '\n')
                *c = ' ';
        bad = 1;
    }
    int prim = rc & 0xff;
    if (rc != SQLITE_DONE && (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)) {
        snprintf(why, 160, "%s", sqlite3_errmsg(db));
        bad = 1;
    } else if (rc != SQLITE_DONE) {
        snprintf(why, DBFILE_ERRLEN, "PRAGMA quick_check: %s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        return STORE_ERROR;
    }
    sqlite3_finalize(st);
    return bad ? STORE_REFUSED : STORE_OK;
}
