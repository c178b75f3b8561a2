/* cmd_db.c — the commands that read a results database: `status` (text,
 * JSON, --watch) and `export`, and the one way every command opens a
 * database and turns a store failure into an exit code (cmd_db.h).
 *
 * export writes a job's weights as .npy into --out DIR (outdir.h): the
 * initial ones recomputed from the job's seed by train_alloc (the database
 * does not store them; they are bit-identical to what training started
 * from) and the final ones the sweep stored.
 */
#include "cmd_db.h"
#include "outdir.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/commands.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/train.h"

#include "rnnsweep/clock.h"

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int cmd_db_exit(const char *cmd, int rc, const char *msg)
{
    if (rc == STORE_OK)
        return EXIT_OK;
    fprintf(stderr, "rnnsweep %s: %s\n", cmd, msg);
    return rc == STORE_REFUSED ? EXIT_USAGE : EXIT_FAIL;
}

int cmd_db_open(const char *cmd, const char *path, int flags, store **out)
{
    char err[STORE_ERRLEN];
    return cmd_db_exit(cmd, store_open(out, path, flags, err), err);
}

static cli_opt export_opts[] = {
    {"db", "PATH", "results database (required)", NULL},
    {"job", "ID", "job id (jobs.id): write this job's weights as .npy", NULL},
    {"out", "DIR", "directory for --job's .npy files", NULL},
    {"csv", "DIR", "write the whole database as CSV: jobs, curves, lyapunov, diagnostics", NULL},
};
enum { E_DB, E_JOB, E_OUT, E_CSV };
static cli_cmd export_cmd = {
    "export", "rnnsweep export --db PATH (--job ID --out DIR | --csv DIR)",
    "--job ID --out DIR: a job's weights as .npy: init_<name>.npy (recomputed from\n"
    "the job's seed, bit-identical to what training started from) and\n"
    "final_<name>.npy (stored by the sweep) for W_in W_rec b W_out b_out, B_fb.npy\n"
    "for rflo, and config.txt.\n"
    "--csv DIR: the database in long format, joinable on job_id: jobs.csv (every\n"
    "config key, status and metric), curves.csv, lyapunov.csv and diagnostics.csv\n"
    "(when the database has diagnostics); reals with 17 digits, NULL empty.\n"
    "DIR may be absent, empty or an earlier export; nothing else is replaced.",
    export_opts, 4, 0};

/* export --csv DIR: the tables through the store into an output directory. */
static int export_csv(const char *db, const char *dir)
{
    static const char *const names[STORE_CSV_TABLES] = {"jobs.csv", "curves.csv", "lyapunov.csv",
                                                        "diagnostics.csv"};
    store *st;
    int rc = cmd_db_open("export", db, STORE_READONLY, &st);
    if (rc != EXIT_OK)
        return rc;
    outdir o;
    if (outdir_open(&o, "export --csv", dir) != 0) {
        store_close(st);
        return EXIT_USAGE;
    }
    FILE *f[STORE_CSV_TABLES] = {0};
    const int ntab = store_has_table(st, "diagnostics") ? STORE_CSV_TABLES : STORE_CSV_TABLES - 1;
    for (int i = 0; i < ntab; i++)
        f[i] = outdir_file(&o, names[i]);
    size_t rows[STORE_CSV_TABLES] = {0};
    if (!o.failed && store_export_csv(st, f, rows) != STORE_OK) {
        fprintf(stderr, "rnnsweep export: %s\n", store_errmsg(st));
        o.failed = 1;
    }
    for (int i = 0; i < ntab; i++)
        if (f[i] && fclose(f[i]) != 0)
            o.failed = 1;
    store_close(st);
    rc = outdir_close(&o, "export --csv");
    if (rc == EXIT_OK) {
        fprintf(stderr, "rnnsweep export: jobs.csv %zu rows, curves.csv %zu, lyapunov.csv %zu",
                rows[0], rows[1], rows[2]);
        if (ntab == STORE_CSV_TABLES)
            fprintf(stderr, ", diagnostics.csv %zu", rows[3]);
        fputc('\n', stderr);
    }
    return rc;
}

int cmd_export(int argc, char **argv)
{
    int rc = cli_parse(&export_cmd, argc, argv, NULL, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    long id;
    if (!export_opts[E_DB].value) {
        fprintf(stderr, "rnnsweep export: --db PATH is required\n");
        return EXIT_USAGE;
    }
    if (export_opts[E_CSV].value) {
        if (export_opts[E_JOB].value || export_opts[E_OUT].value) {
            fprintf(stderr, "rnnsweep export: --csv DIR writes the whole database; it takes no --job or --out\n");
            return EXIT_USAGE;
        }
        return export_csv(export_opts[E_DB].value, export_opts[E_CSV].value);
    }
    if (!export_opts[E_JOB].value) {
        fprintf(stderr, "rnnsweep export: --job ID --out DIR, or --csv DIR, is required\n");
        return EXIT_USAGE;
    }
    if (cli_long(&export_cmd, &export_opts[1], 1, LONG_MAX, &id))
        return EXIT_USAGE;
    store *st;
    char err[256];
    if ((rc = cmd_db_open("export", export_opts[0].value, STORE_READONLY, &st)) != EXIT_OK)
        return rc;
    config c;
    int status;
    if (store_job_config(st, id, &c, &status) != STORE_OK) {
        fprintf(stderr, "rnnsweep export: %s: no job %ld\n", export_opts[0].value, id);
        store_close(st);
        return EXIT_USAGE;
    }
    train_job *j = train_alloc(&c, err);
    rnn_params fin = {0};
    int have_final = 0;
    if (j && rnn_params_alloc(&fin, (int)c.hidden, train_params(j)->I, train_params(j)->O) == 0)
        have_final = store_weights_get(st, id, &fin) == STORE_OK;
    store_close(st);
    outdir o;
    rc = EXIT_FAIL;
    if (!j) {
        fprintf(stderr, "rnnsweep export: %s\n", err);
    } else if (outdir_open(&o, "export", export_opts[2].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        outdir_put_params(&o, train_params_init(j), "init_");
        if (have_final)
            outdir_put_params(&o, &fin, "final_");
        else
            fprintf(stderr, "rnnsweep export: job %ld has no stored final weights (status %s)\n",
                    id, store_status_name(status) ? store_status_name(status) : "unknown");
        if (c.rule == RULE_RFLO)
            outdir_put_f8(&o, "B_fb.npy", train_feedback(j), 2, fin.N, fin.O, 0);
        char extra[64];
        snprintf(extra, sizeof extra, "job_id=%ld\n", id);
        outdir_put_config(&o, &c, extra);
        rc = outdir_close(&o, "export");
    }
    rnn_params_free(&fin);
    train_free(j);
    return rc;
}

/* ---------------------------------------------------------------- status
 *
 * The report of store_status_write, text or JSON, once or (--watch) every
 * SEC seconds until no job is pending or running; read-only. */

static cli_opt status_opts[] = {
    {"db", "PATH", "results database (required)", NULL},
    {"json", NULL, "one JSON object on one line instead of the text report (README lists its fields)", NULL},
    {"watch", "[SEC]", "redraw the report every SEC seconds (default 5) until no job is pending or"
                       " running, then exit 0; Ctrl-C exits with code 3", NULL},
};
enum { S_DB, S_JSON, S_WATCH };
static cli_cmd status_cmd = {
    "status", "rnnsweep status --db PATH [--json] [--watch [SEC]]",
    "Counts of jobs by status, per grid axis, the running jobs with their progress\n"
    "(iters_done of iters, rate, time left), the last launch and the time left.\n"
    "Reads only; safe while a sweep is running.",
    status_opts, sizeof status_opts / sizeof status_opts[0], 0};

#define WATCH_DEFAULT "5"

static volatile sig_atomic_t status_stop;

static void on_status_signal(int sig)
{
    status_stop = sig;
}

/* argv with the default SEC after a bare --watch (last, or followed by an
 * option); malloc'ed (argc + 1 entries, NULL-terminated), NULL if out of memory. */
static char **watch_argv(int argc, char **argv, int *nargc)
{
    char **a = malloc((size_t)(argc + 2) * sizeof *a);
    if (!a)
        return NULL;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        a[n++] = argv[i];
        if (i > 0 && strcmp(argv[i], "--watch") == 0 &&
            (i + 1 == argc || strncmp(argv[i + 1], "--", 2) == 0))
            a[n++] = WATCH_DEFAULT;
    }
    a[n] = NULL;
    *nargc = n;
    return a;
}

/* Sleep up to sec seconds; returns early when a signal set status_stop. */
static void status_nap(double sec)
{
    const double end = clock_now() + sec;
    for (double left = sec; left > 0 && !status_stop; left = end - clock_now())
        clock_sleep(left);
}

/* One report of the database at path to stdout: EXIT_OK, or the exit code
 * after a one-line message.  *unfinished: pending + running jobs. */
static int status_report(const char *path, int format, const char *before, size_t *unfinished)
{
    store *st;
    int rc = cmd_db_open("status", path, STORE_READONLY, &st);
    if (rc != EXIT_OK)
        return rc;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    rc = m && store_status_write(st, m, format, unfinished) == STORE_OK ? EXIT_OK : EXIT_FAIL;
    if (m && fclose(m) != 0)
        rc = EXIT_FAIL;
    if (rc != EXIT_OK)
        fprintf(stderr, "rnnsweep status: %s\n", m ? store_errmsg(st) : "out of memory");
    /* Closed before writing: a slow reader of stdout must not hold the
     * database open (the sweep's switch back to a rollback journal waits
     * for every other connection to close). */
    store_close(st);
    if (rc == EXIT_OK) {
        fputs(before, stdout);
        fwrite(buf, 1, len, stdout);
        fflush(stdout);
    }
    free(buf);
    return rc;
}

/* The report every `every` seconds until no job is pending or running: the
 * screen cleared first on a terminal, else a separator line with the time
 * (none between JSON lines).  The store is opened for each report, so the
 * sweep's own connection is the only one between reports. */
static int status_watch(const char *path, int format, double every)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_status_signal; /* no SA_RESTART: the nap ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    const int tty = format == STORE_REPORT_TEXT && isatty(STDOUT_FILENO);
    for (int n = 0;; n++) {
        char before[160] = "";
        if (tty) {
            snprintf(before, sizeof before, "\033[H\033[2J" "rnnsweep status --watch %g"
                     " (Ctrl-C to stop)\n\n", every);
        } else if (format == STORE_REPORT_TEXT) {
            char at[32];
            clock_iso_now(at);
            snprintf(before, sizeof before, "%s---- %s ----\n", n ? "\n" : "", at);
        }
        size_t unfinished = 0;
        int rc = status_report(path, format, before, &unfinished);
        if (rc != EXIT_OK || unfinished == 0)
            return rc;
        status_nap(every);
        if (status_stop)
            return EXIT_INTERRUPTED;
    }
}

int cmd_status(int argc, char **argv)
{
    int nargc;
    char **args = watch_argv(argc, argv, &nargc);
    if (!args) {
        fprintf(stderr, "rnnsweep status: out of memory\n");
        return EXIT_FAIL;
    }
    int rc = cli_parse(&status_cmd, nargc, args, NULL, NULL);
    free(args);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (!status_opts[S_DB].value) {
        fprintf(stderr, "rnnsweep status: --db PATH is required\n");
        return EXIT_USAGE;
    }
    double every = 0;
    if (status_opts[S_WATCH].value &&
        cli_real(&status_cmd, &status_opts[S_WATCH], 0.1, 86400, &every) != 0)
        return EXIT_USAGE;
    const int format = status_opts[S_JSON].value ? STORE_REPORT_JSON : STORE_REPORT_TEXT;
    if (every > 0)
        return status_watch(status_opts[S_DB].value, format, every);
    return status_report(status_opts[S_DB].value, format, "", NULL);
}
