/* store_fixture.h — the file helpers the results-database tests share
 * (tests/test_store.c, tests/test_store_open.c).
 *
 * Every check works on real files in one fresh temporary directory
 * (fixture_dir) and reads them back without the store: bytes (slurp,
 * same_bytes), and a separate plain sqlite3 connection (q1, sql), which is
 * what pandas or the sqlite3 CLI would see.  refused() is the contract of a
 * refusal: STORE_REFUSED, a message naming the file, the file's bytes
 * unchanged.  Header-only: each test is one executable.
 */
#ifndef RNNSWEEP_TESTS_STORE_FIXTURE_H
#define RNNSWEEP_TESTS_STORE_FIXTURE_H

#include "rnnsweep/store.h"

#include <sqlite3.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static char dir[256];

/* Make the fresh temporary directory NAME.XXXXXX under $TMPDIR or /tmp; exit 1 if impossible. */
static inline void fixture_dir(const char *name)
{
    snprintf(dir, sizeof dir, "%s/%s.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", name);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        exit(1);
    }
    printf("SQLite %s in %s\n", sqlite3_libversion(), dir);
}

/* DIR/name; the last 8 results stay valid. */
static inline const char *tmp(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

/* One number from `sql` through an independent read-only connection (NaN if NULL or error). */
static inline double q1(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    double v = NAN;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_double(st, 0);
    else if (db && sqlite3_errcode(db) != SQLITE_OK && sqlite3_errcode(db) != SQLITE_ROW &&
             sqlite3_errcode(db) != SQLITE_DONE)
        fprintf(stderr, "  (query failed: %s: %s)\n", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Run `text` on path with a plain connection (another application, or ours from the future); exit on failure. */
static inline void sql(const char *path, const char *text)
{
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, text, NULL, NULL, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s: %s\n", path, text, sqlite3_errmsg(db));
        exit(1);
    }
    sqlite3_close(db);
}

/* The whole file (caller frees); NULL if missing. */
static inline unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0;
    for (;;) {
        if (*n == cap)
            buf = realloc(buf, cap = cap ? 2 * cap : 65536);
        size_t r = fread(buf + *n, 1, cap - *n, f);
        if (!r)
            break;
        *n += r;
    }
    fclose(f);
    return buf;
}

/* Write n bytes to path; exit on failure. */
static inline void spit(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(1);
    }
    fclose(f);
}

static inline uint64_t fixture_fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/* store_open(path, flags) must refuse, with the path and `needle` in the
 * message, and leave path's bytes as they were. */
static inline void refused(const char *what, const char *path, int flags, const char *needle)
{
    size_t n0, n1;
    unsigned char *b0 = slurp(path, &n0);
    char err[STORE_ERRLEN] = "";
    store *s = NULL;
    int rc = store_open(&s, path, flags, err);
    unsigned char *b1 = slurp(path, &n1);
    int same = (b0 == NULL) == (b1 == NULL) && n0 == n1 && (!n0 || memcmp(b0, b1, n0) == 0);
    char msg[700];
    snprintf(msg, sizeof msg, "refused: %s", what);
    check_true(rc == STORE_REFUSED && s == NULL && strncmp(err, path, strlen(path)) == 0 &&
                   strstr(err, needle) && same,
               msg, "rc %d, bytes %s (fnv %016llx -> %016llx): %s", rc,
               same ? "unchanged" : "CHANGED", (unsigned long long)fixture_fnv(b0, n0),
               (unsigned long long)fixture_fnv(b1, n1), err);
    store_close(s);
    free(b0);
    free(b1);
}

#endif
