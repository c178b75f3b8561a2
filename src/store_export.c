/* store_export.c — a database's tables as CSV, for people who do not want SQL.
 *
 * `rnnsweep export --db PATH --csv DIR` writes, in long format and joinable
 * on job_id: jobs.csv (one row per job: job_id, every config key, status,
 * the metrics and the bookkeeping columns; the canonical `config` text is
 * left out, the keys carry it), curves.csv (job_id, iter, loss, accuracy),
 * lyapunov.csv (job_id, phase, iter, idx, value, sd) and, when the database
 * has the table, diagnostics.csv (job_id, iter, name, value).  Reals are
 * written with 17 significant digits, so they read back to the same double;
 * NULL is an empty field; text is quoted when it holds a comma, a quote or a
 * line break (RFC 4180).  One read transaction: a consistent snapshot while
 * a sweep writes.
 */
#include "store_int.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* One field of column i of the current row. */
static int put_field(FILE *f, sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_NULL:
        return 0;
    case SQLITE_INTEGER:
        return fprintf(f, "%" PRId64, (int64_t)sqlite3_column_int64(st, i)) < 0;
    case SQLITE_FLOAT:
        return fprintf(f, "%.17g", sqlite3_column_double(st, i)) < 0;
    default: {
        const char *t = (const char *)sqlite3_column_text(st, i);
        if (!t)
            return 0;
        if (!strpbrk(t, ",\"\r\n"))
            return fputs(t, f) < 0;
        int bad = fputc('"', f) == EOF;
        for (; *t && !bad; t++)
            bad = (*t == '"' && fputc('"', f) == EOF) || fputc(*t, f) == EOF;
        return bad || fputc('"', f) == EOF;
    }
    }
}

/* The rows of `sql` with a header line; *rows counted. */
static int put_query(store *s, const char *sql, FILE *f, size_t *rows)
{
    sqlite3_stmt *st = NULL;
    *rows = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_sqlfail(s, "prepare the export");
    const int n = sqlite3_column_count(st);
    int bad = 0;
    for (int i = 0; i < n && !bad; i++)
        bad = fprintf(f, "%s%s", i ? "," : "", sqlite3_column_name(st, i)) < 0;
    bad = bad || fputc('\n', f) == EOF;
    int rc;
    while (!bad && (rc = sq_step(s, st)) == SQLITE_ROW) {
        for (int i = 0; i < n && !bad; i++)
            bad = (i && fputc(',', f) == EOF) || put_field(f, st, i);
        bad = bad || fputc('\n', f) == EOF;
        ++*rows;
    }
    sqlite3_finalize(st);
    if (bad)
        return sq_fail(s, STORE_ERROR, "writing the CSV failed");
    return rc == SQLITE_DONE ? STORE_OK : sq_sqlfail(s, "read a table for the export");
}

int store_export_csv(store *s, FILE *files[STORE_CSV_TABLES], size_t rows[STORE_CSV_TABLES])
{
    sbuf cols = {0};
    sb_printf(&cols, "SELECT id AS job_id");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "SELECT name FROM pragma_table_info('jobs') ORDER BY cid", -1, &st,
                           NULL) != SQLITE_OK)
        return sq_sqlfail(s, "read the jobs columns");
    while (sq_step(s, st) == SQLITE_ROW) {
        const char *c = (const char *)sqlite3_column_text(st, 0);
        if (c && strcmp(c, "id") != 0 && strcmp(c, "config") != 0)
            sb_printf(&cols, ", \"%s\"", c);
    }
    sqlite3_finalize(st);
    sb_printf(&cols, " FROM jobs ORDER BY id");
    if (cols.oom) {
        free(cols.p);
        return sq_fail(s, STORE_ERROR, "out of memory");
    }
    int rc = sq_exec(s, "BEGIN", "begin a read");
    if (rc == STORE_OK)
        rc = put_query(s, cols.p, files[0], &rows[0]);
    if (rc == STORE_OK)
        rc = put_query(s, "SELECT job_id, iter, loss, accuracy FROM curves ORDER BY job_id, iter",
                       files[1], &rows[1]);
    if (rc == STORE_OK)
        rc = put_query(s, "SELECT job_id, phase, iter, idx, value, sd FROM lyapunov"
                          " ORDER BY job_id, iter, phase, idx", files[2], &rows[2]);
    rows[3] = 0;
    if (rc == STORE_OK && files[3])
        rc = put_query(s, "SELECT job_id, iter, name, value FROM diagnostics ORDER BY job_id, iter, name",
                       files[3], &rows[3]);
    int erc = sq_exec(s, rc == STORE_OK ? "COMMIT" : "ROLLBACK", "end the read");
    free(cols.p);
    return rc != STORE_OK ? rc : erc;
}

int store_has_table(store *s, const char *name)
{
    sqlite3_stmt *st = NULL;
    int has = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                           -1, &st, NULL) == SQLITE_OK &&
        sq_bind_txt(s, st, 1, name) == STORE_OK)
        has = sq_step(s, st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return has;
}
