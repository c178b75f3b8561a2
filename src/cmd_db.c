/* cmd_db.c — the commands that read a results database: `export`, and the
 * one way every command opens a database and turns a store failure into an
 * exit code (cmd_db.h).
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

#include <limits.h>
#include <stdio.h>

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
    {"job", "ID", "job id (jobs.id) (required)", NULL},
    {"out", "DIR", "directory to write (required)", NULL},
};
static cli_cmd export_cmd = {
    "export", "rnnsweep export --db PATH --job ID --out DIR",
    "Write a job's weights as .npy: init_<name>.npy (recomputed from the job's seed,\n"
    "bit-identical to what training started from) and final_<name>.npy (stored by\n"
    "the sweep) for W_in W_rec b W_out b_out, B_fb.npy for rflo, and config.txt.",
    export_opts, 3, 0};

int cmd_export(int argc, char **argv)
{
    int rc = cli_parse(&export_cmd, argc, argv, NULL, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    long id;
    if (!export_opts[0].value || !export_opts[1].value) {
        fprintf(stderr, "rnnsweep export: --db PATH and --job ID are required\n");
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
