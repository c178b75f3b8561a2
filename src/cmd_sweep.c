/* cmd_sweep.c — `rnnsweep sweep`: run a sweep file under MPI (status and
 * export, which only read a database, are in cmd_db.c).
 *
 * sweep: every rank parses the options; rank 0 alone reads the sweep file,
 * opens the database (taking the launch lock), records the grid, returns
 * jobs left running by a dead launch to pending, and then runs the farm.  A
 * bad sweep file or database is found before the database is touched and
 * every rank exits with code 2.  `--check` does all the validation without
 * MPI and without writing.
 * */
#include "cmd_db.h"
#include "rnnsweep/blasenv.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/commands.h"
#include "version.h"
#include "rnnsweep/farm.h"
#include "rnnsweep/store.h"
#include "rnnsweep/sweep.h"

#include <fcntl.h>
#include <signal.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static cli_opt sweep_opts[] = {
    {"db", "PATH", "results database, created if missing (required)", NULL},
    {"check", NULL, "validate the sweep file and the database, print job counts (and how many are new to the database), write nothing", NULL},
    {"list", NULL, "--check, and list every job: its status in the database (or new) and the keys the grid varies", NULL},
    {"journal", "wal|delete", "SQLite journal: wal (default, local disks) or delete (NFS, Lustre)", NULL},
    {"max-attempts", "N", "a job whose launches die this many times is marked failed (default 3)", NULL},
    {"grace", "SEC", "after a signal, wait this long for running jobs to checkpoint (default 60)", NULL},
    {"job-time-limit", "SEC", "end a job attempt after SEC seconds with status timeout (default: none)", NULL},
    {"progress", "SEC", "seconds between progress lines on stderr (default 10; 0 = off)", NULL},
    {"flush", "SEC", "a running job's curve, exponents and iters_done reach the database at least this often (default 30; 0 = only at its end)", NULL},
    {"no-weights", NULL, "do not store final weights (saves ~8 N^2 bytes per job)", NULL},
};
enum { O_DB, O_CHECK, O_LIST, O_JOURNAL, O_MAXATT, O_GRACE, O_JOBLIMIT, O_PROGRESS, O_FLUSH, O_NOWEIGHTS };

static cli_cmd sweep_cmd = {
    "sweep", "mpirun -n P rnnsweep sweep FILE --db PATH [options]",
    "Run every job of the sweep file FILE (see README: key = value lines; lists,\n"
    "ranges a..b, [sections]) and store curves, exponents and weights in PATH.\n"
    "Rerunning the same command resumes; adding values to FILE adds only the new\n"
    "jobs. SIGTERM/SIGINT/SIGUSR1/SIGHUP/SIGPIPE checkpoint the running jobs and exit\n"
    "with code 3. A job that kills its launch is marked failed after --max-attempts\n"
    "launches that died while it ran alone.\n"
    "Exit codes: 0 complete, 1 failure, 2 bad input (nothing written), 3 interrupted.",
    sweep_opts, sizeof sweep_opts / sizeof sweep_opts[0], 0};

typedef struct sweep_args {
    const char *file, *db;
    int check, list, flags, max_attempts;
    farm_opts fo;
} sweep_args;

/* Parse and check the options; -1 after a message. */
static int parse_args(int argc, char **argv, sweep_args *a)
{
    for (size_t i = 0; i < sizeof sweep_opts / sizeof sweep_opts[0]; i++)
        sweep_opts[i].value = NULL;
    int rc = cli_parse(&sweep_cmd, argc, argv, NULL, &a->file);
    if (rc)
        return rc;
    memset(&a->fo, 0, sizeof a->fo);
    a->db = sweep_opts[O_DB].value;
    a->check = sweep_opts[O_CHECK].value != NULL;
    a->list = sweep_opts[O_LIST].value != NULL;
    a->flags = STORE_CREATE | STORE_LOCK;
    a->max_attempts = 3;
    a->fo.grace = 60;
    a->fo.progress = 10;
    a->fo.flush = 30;
    a->fo.save_weights = sweep_opts[O_NOWEIGHTS].value == NULL;
    if (!a->file) {
        fprintf(stderr, "rnnsweep sweep: a sweep FILE is required (see rnnsweep sweep --help)\n");
        return -1;
    }
    if (!a->db) {
        fprintf(stderr, "rnnsweep sweep: --db PATH is required\n");
        return -1;
    }
    const char *j = sweep_opts[O_JOURNAL].value;
    if (j && strcmp(j, "delete") == 0)
        a->flags |= STORE_JOURNAL_DELETE;
    else if (j && strcmp(j, "wal") != 0) {
        fprintf(stderr, "rnnsweep sweep: --journal: unknown value '%s' (choose wal or delete)\n", j);
        return -1;
    }
    long att;
    if (sweep_opts[O_MAXATT].value) {
        if (cli_long(&sweep_cmd, &sweep_opts[O_MAXATT], 1, 1000, &att))
            return -1;
        a->max_attempts = (int)att;
    }
    if ((sweep_opts[O_GRACE].value &&
         cli_real(&sweep_cmd, &sweep_opts[O_GRACE], 0, 1e6, &a->fo.grace)) ||
        (sweep_opts[O_JOBLIMIT].value &&
         cli_real(&sweep_cmd, &sweep_opts[O_JOBLIMIT], 0, 1e9, &a->fo.job_time_limit)) ||
        (sweep_opts[O_PROGRESS].value &&
         cli_real(&sweep_cmd, &sweep_opts[O_PROGRESS], 0, 1e6, &a->fo.progress)) ||
        (sweep_opts[O_FLUSH].value &&
         cli_real(&sweep_cmd, &sweep_opts[O_FLUSH], 0, 1e6, &a->fo.flush)))
        return -1;
    return 0;
}

/* --check's job census: how many of the grid's jobs the database holds, by
 * status, and how many a launch would add; with --list one line per job:
 * its status (or "new") and the keys that vary across the grid.  st may be
 * NULL (no database yet: every job is new). */
static int census(store *st, sweep *sw, int list)
{
    const size_t n = sweep_count(sw);
    size_t nk, by[JOB_NSTATUS + 1] = {0}; /* [0] new, [1 + status] */
    const config_key *keys = config_keys(&nk);
    unsigned char vary[256] = {0};
    char a[CONFIG_ERRLEN], b[CONFIG_ERRLEN];
    for (size_t k = 0; k < nk && k < sizeof vary; k++)
        for (size_t i = 1; i < n && !vary[k]; i++) {
            config_get(sweep_job(sw, 0), (int)k, a, sizeof a);
            config_get(sweep_job(sw, i), (int)k, b, sizeof b);
            vary[k] = strcmp(a, b) != 0;
        }
    for (size_t i = 0; i < n; i++) {
        int status = -1;
        if (st && store_job_status_of(st, sweep_job(sw, i), &status) != STORE_OK) {
            fprintf(stderr, "rnnsweep sweep: %s\n", store_errmsg(st));
            return EXIT_FAIL;
        }
        by[status + 1]++;
        if (list) {
            printf("%-8s", status < 0 ? "new" : store_status_name(status));
            for (size_t k = 0; k < nk && k < sizeof vary; k++)
                if (vary[k]) {
                    config_get(sweep_job(sw, i), (int)k, a, sizeof a);
                    printf(" %s=%s", keys[k].name, a);
                }
            putchar('\n');
        }
    }
    printf("%zu of the %zu jobs are new to the database", by[0], n);
    if (by[0] < n) {
        printf("; already in it:");
        for (int s = 0; s < JOB_NSTATUS; s++)
            if (by[s + 1])
                printf(" %s %zu", store_status_name(s), by[s + 1]);
    }
    putchar('\n');
    return EXIT_OK;
}

/* --check: validate without MPI and without writing: every job storable,
 * and every check the launch's read-write open makes (store_check). */
static int check_only(const sweep_args *a, sweep *sw)
{
    char err[STORE_ERRLEN];
    printf("%s: %zu jobs\n", a->file, sweep_count(sw));
    for (size_t i = 0; i < sweep_count(sw); i++)
        if (store_check_job(NULL, sweep_job(sw, i), a->fo.save_weights, err) != STORE_OK) {
            fprintf(stderr, "rnnsweep sweep: %s: %s\n", a->file, err);
            return EXIT_USAGE;
        }
    int rc = cmd_db_exit("sweep", store_check(a->db, a->flags & ~STORE_LOCK, err), err);
    if (rc != EXIT_OK)
        return rc;
    struct stat fst;
    if (stat(a->db, &fst) != 0 || fst.st_size == 0) {
        printf("%s: %s\n", a->db, stat(a->db, &fst) != 0 ? "does not exist yet; it will be created"
                                                         : "empty; it will be initialised");
        return census(NULL, sw, a->list);
    }
    store *st;
    if ((rc = cmd_db_open("sweep", a->db, STORE_READONLY, &st)) != EXIT_OK)
        return rc;
    printf("%s: an rnnsweep database\n", a->db);
    store_status_print(st, stdout);
    rc = census(st, sw, a->list);
    store_close(st);
    return rc;
}

/* Rank 0's setup: sweep file, database, grid, recovery.  Returns an exit code. */
static int setup(const sweep_args *a, sweep **sw, store **st, long *sweep_id)
{
    char err[STORE_ERRLEN > SWEEP_ERRLEN ? STORE_ERRLEN : SWEEP_ERRLEN];
    *sw = sweep_load(a->file, err);
    if (!*sw) {
        fprintf(stderr, "rnnsweep sweep: %s\n", err);
        return EXIT_USAGE;
    }
    /* What can never be stored is bad input, found before anything is created. */
    for (size_t i = 0; i < sweep_count(*sw); i++)
        if (store_check_job(NULL, sweep_job(*sw, i), a->fo.save_weights, err) != STORE_OK) {
            fprintf(stderr, "rnnsweep sweep: %s: %s\n", a->file, err);
            return EXIT_USAGE;
        }
    int rc = cmd_db_open("sweep", a->db, a->flags, st);
    if (rc != EXIT_OK)
        return rc;
    size_t n = sweep_count(*sw), added;
    store_recovery rec;
    config *jobs = malloc(n * sizeof *jobs);
    if (!jobs)
        return EXIT_FAIL;
    for (size_t i = 0; i < n; i++)
        jobs[i] = *sweep_job(*sw, i);
    rc = store_add_sweep(*st, a->file, sweep_text(*sw), sweep_hash(*sw), jobs, n, sweep_id, &added);
    free(jobs);
    if (rc == STORE_OK)
        rc = store_recover(*st, a->max_attempts, &rec);
    if (rc != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: %s: %s\n", a->db, store_errmsg(*st));
        return EXIT_FAIL;
    }
    fprintf(stderr, "[sweep] %s: %zu jobs in the grid, %zu new", a->file, n, added);
    if (rec.requeued || rec.failed)
        fprintf(stderr, "; %zu job(s) left running by an earlier launch back to pending", rec.requeued);
    if (rec.blamed)
        fprintf(stderr, "; %zu blamed for its launch's death", rec.blamed);
    if (rec.failed)
        fprintf(stderr, "; %zu failed after %d deaths of their launch", rec.failed, a->max_attempts);
    fprintf(stderr, "\n");
    return EXIT_OK;
}

/* Every rank's processor name (collective): on rank 0 a malloc'ed array of
 * size * MPI_MAX_PROCESSOR_NAME chars (rank r at r * MPI_MAX_PROCESSOR_NAME)
 * and the comma-separated distinct names in `joined`; NULL elsewhere. */
static char *gather_hosts(int rank, int size, char *joined, size_t n)
{
    char name[MPI_MAX_PROCESSOR_NAME] = {0};
    int len;
    joined[0] = 0;
    if (farm_mpi(MPI_Get_processor_name(name, &len), "Get_processor_name"))
        snprintf(name, sizeof name, "?");
    char *all = rank == 0 ? calloc((size_t)size, MPI_MAX_PROCESSOR_NAME) : NULL;
    if (rank == 0 && !all)
        return NULL; /* the caller aborts the launch before anyone gathers */
    if (farm_mpi(MPI_Gather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all, MPI_MAX_PROCESSOR_NAME,
                            MPI_CHAR, 0, MPI_COMM_WORLD), "Gather")) {
        free(all);
        return NULL;
    }
    if (rank != 0)
        return all;
    for (int r = 0; r < size; r++) {
        const char *h = all + (size_t)r * MPI_MAX_PROCESSOR_NAME;
        int seen = 0;
        for (int q = 0; q < r; q++)
            seen |= strcmp(h, all + (size_t)q * MPI_MAX_PROCESSOR_NAME) == 0;
        if (!seen) {
            size_t l = strlen(joined);
            snprintf(joined + l, n - l, "%s%s", l ? "," : "", h);
        }
    }
    return all;
}

static int run_master(const sweep_args *a, store *st, long sweep_id, int size, const char *hosts,
                      const char *rank_hosts, int argc, char **argv)
{
    char mpi[MPI_MAX_LIBRARY_VERSION_STRING], blas[64], cmdline[2048] = "rnnsweep";
    int len;
    if (farm_mpi(MPI_Get_library_version(mpi, &len), "Get_library_version"))
        snprintf(mpi, sizeof mpi, "?");
    mpi[strcspn(mpi, ",\n")] = 0;
    snprintf(blas, sizeof blas, "OpenBLAS %s", blasenv_core());
    for (int i = 0; i < argc; i++) {
        size_t l = strlen(cmdline);
        snprintf(cmdline + l, sizeof cmdline - l, " %s", argv[i]);
    }
    const char *slurm = getenv("SLURM_JOB_ID");
    /* sqlite NULL: the store records the SQLite it is linked with. */
    store_run_info info = {sweep_id, RNNSWEEP_VERSION, RNNSWEEP_GIT, "gcc " __VERSION__, mpi, blas,
                           NULL, hosts, slurm ? slurm : "", cmdline, size};
    long run_id;
    if (store_run_begin(st, &info, &run_id) != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: %s: %s\n", a->db, store_errmsg(st));
        /* The workers wait for jobs in farm_worker: without a stop they
         * never reach MPI_Finalize, and rank 0 would wait there forever. */
        return farm_stop_workers(size, FARM_ERROR) ? FARM_ABANDONED : FARM_ERROR;
    }
    size_t done;
    int rc = farm_master(st, sweep_id, run_id, size, rank_hosts, MPI_MAX_PROCESSOR_NAME, &a->fo,
                         &done);
    /* An open runs row would make the next launch take this one for dead. */
    if (store_run_end(st, run_id, rc == FARM_ABANDONED ? EXIT_INTERRUPTED : rc, done) != STORE_OK)
        fprintf(stderr, "rnnsweep sweep: %s: cannot close the runs row: %s\n", a->db,
                store_errmsg(st));
    /* Complete: back to a rollback journal, so the file reads from a read-only place. */
    if (rc == FARM_DONE && store_finish(st) != STORE_OK)
        fprintf(stderr, "[sweep] %s: %s (stays WAL)\n", a->db, store_errmsg(st));
    if (rc == FARM_DONE)
        fprintf(stderr, "[sweep] complete: results in %s (rnnsweep status --db %s)\n", a->db, a->db);
    else if (rc == FARM_INTERRUPTED || rc == FARM_ABANDONED)
        fprintf(stderr, "[sweep] interrupted: rerun the same command to continue\n");
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    sweep_args a;
    /* --check and --help need no MPI. */
    int help_or_check = 0;
    for (int i = 1; i < argc; i++)
        help_or_check |= !strcmp(argv[i], "--check") || !strcmp(argv[i], "--list") ||
                         !strcmp(argv[i], "--help") ||
                         !strcmp(argv[i], "-h");
    if (help_or_check) {
        int rc = parse_args(argc, argv, &a);
        if (rc)
            return rc > 0 ? EXIT_OK : EXIT_USAGE;
        char err[SWEEP_ERRLEN];
        sweep *sw = sweep_load(a.file, err);
        if (!sw) {
            fprintf(stderr, "rnnsweep sweep: %s\n", err);
            return EXIT_USAGE;
        }
        rc = check_only(&a, sw);
        sweep_free(sw);
        return rc;
    }

    int provided, rank, size;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        fprintf(stderr, "rnnsweep sweep: MPI_Init failed\n");
        return EXIT_FAIL;
    }
    farm_signals_install();
    if (farm_init() != FARM_DONE || farm_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "Comm_rank") ||
        farm_mpi(MPI_Comm_size(MPI_COMM_WORLD, &size), "Comm_size")) {
        MPI_Finalize();
        return EXIT_FAIL;
    }
    /* Only rank 0 speaks about bad options. */
    int saved = -1;
    if (rank != 0) {
        saved = dup(2);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 2);
        close(nul);
    }
    int code = parse_args(argc, argv, &a) ? EXIT_USAGE : EXIT_OK;
    if (saved >= 0) {
        dup2(saved, 2);
        close(saved);
    }
    sweep *sw = NULL;
    store *st = NULL;
    long sweep_id = 0;
    if (rank == 0 && code == EXIT_OK) {
        code = setup(&a, &sw, &st, &sweep_id);
        if (code == EXIT_OK && provided < MPI_THREAD_FUNNELED) {
            fprintf(stderr, "rnnsweep sweep: the MPI library lacks MPI_THREAD_FUNNELED\n");
            code = EXIT_FAIL;
        }
    }
    if (farm_mpi(MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD), "Bcast"))
        code = EXIT_FAIL;
    if (code != EXIT_OK) {
        store_close(st);
        sweep_free(sw);
        MPI_Finalize();
        return code;
    }
    char hosts[1024];
    char *rank_hosts = gather_hosts(rank, size, hosts, sizeof hosts);
    int rc;
    if (rank == 0 && !rank_hosts) {
        fprintf(stderr, "rnnsweep sweep: out of memory (or MPI_Gather failed)\n");
        store_close(st);
        MPI_Abort(MPI_COMM_WORLD, EXIT_FAIL); /* the workers wait for jobs: end them */
    }
    if (rank == 0) {
        rc = run_master(&a, st, sweep_id, size, hosts, rank_hosts, argc, argv);
        free(rank_hosts);
        store_close(st);
        sweep_free(sw);
        /* Abandoned: ranks may be mid-job, so end them all.  Every other
         * ending, a database error included, has stopped the workers. */
        if (rc == FARM_ABANDONED)
            MPI_Abort(MPI_COMM_WORLD, EXIT_INTERRUPTED);
    } else {
        rc = farm_worker();
    }
    MPI_Finalize();
    return rc == FARM_DONE ? EXIT_OK : rc == FARM_INTERRUPTED ? EXIT_INTERRUPTED : EXIT_FAIL;
}
