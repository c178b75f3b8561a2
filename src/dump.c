/* dump.c — the verification commands `task`, `gradient`, `lyap` (SPEC §6) and `export`.
 *
 * Each writes NumPy .npy files and a config.txt of canonical `key=value`
 * lines into --out DIR, so another framework can recompute every number.
 * Files are written into a fresh sibling directory DIR.tmp.XXXXXX which
 * replaces DIR only when all of them are complete: a failed or refused dump
 * leaves no partial output and no temporary directory.  Every dump holds a
 * marker file, .rnnsweep-dump, whose first line names its format.
 *
 * Nothing but an earlier dump of ours is ever replaced.  DIR may be absent
 * (created with the umask's mode), an empty directory, or a directory holding
 * the marker and nothing but regular files that some dump writes (dump_name);
 * a replaced directory keeps its mode.  Anything else — a symlink (DIR itself
 * or inside it; none is ever followed), a file, a subdirectory, a foreign
 * name, no marker — is refused with one line and exit code 2 before anything
 * is created.  The swap is atomic (renameat2 RENAME_EXCHANGE, or two renames
 * where the file system lacks it), and the old directory is checked again
 * once it is aside: if something was added meanwhile it is put back.
 */
#include "rnnsweep/cli.h"
#include "rnnsweep/commands.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/npy.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/store.h"
#include "rnnsweep/task.h"
#include "rnnsweep/train.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every dump holds this marker; its first line starts with DUMP_FORMAT. */
#define DUMP_MARKER ".rnnsweep-dump"
#define DUMP_FORMAT "rnnsweep dump, format "
#define DUMP_MARKER_TEXT DUMP_FORMAT "1\n"

typedef struct outdir {
    char final[PATH_MAX];
    char tmp[PATH_MAX];
    int failed;
} outdir;

/* What is at an --out path. */
enum { OUT_ABSENT, OUT_REPLACEABLE, OUT_FOREIGN };

/* 1 if `name` is a file some dump of ours writes. */
static int dump_name(const char *name)
{
    static const char *const fixed[] = {DUMP_MARKER, "config.txt", "x.npy", "mask.npy",
                                        "labels.npy", "target.npy", "y.npy", "loss.npy",
                                        "B_fb.npy", "Q0.npy", "lyap.npy", "h0.npy"};
    static const char *const prefix[] = {"", "grad_", "init_", "final_"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (strcmp(name, fixed[i]) == 0)
            return 1;
    char n[64];
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0]; i++)
        for (int t = 0; t < RNN_NTENSORS; t++) {
            snprintf(n, sizeof n, "%s%s.npy", prefix[i], rnn_tensor_name(t));
            if (strcmp(name, n) == 0)
                return 1;
        }
    return 0;
}

/* 1 if the regular file `name` in directory dfd starts with our format line. */
static int marker_ok(int dfd, const char *name)
{
    char buf[sizeof DUMP_FORMAT];
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n == (ssize_t)sizeof buf - 1 && memcmp(buf, DUMP_FORMAT, sizeof buf - 1) == 0;
}

/* Classify `dir` without following a symlink: OUT_ABSENT, OUT_REPLACEABLE
 * (an empty directory, or one holding our marker and nothing but regular
 * files a dump writes; *mode gets its permission bits) or OUT_FOREIGN with
 * the reason in why[n]. */
static int out_classify(const char *dir, mode_t *mode, char *why, size_t n)
{
    struct stat st;
    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT)
            return OUT_ABSENT;
        snprintf(why, n, "cannot be inspected: %s", strerror(errno));
        return OUT_FOREIGN;
    }
    if (S_ISLNK(st.st_mode)) {
        snprintf(why, n, "is a symbolic link, which is never followed");
        return OUT_FOREIGN;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, n, "exists and is not a directory");
        return OUT_FOREIGN;
    }
    *mode = st.st_mode & 07777;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        snprintf(why, n, "cannot be read: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return OUT_FOREIGN;
    }
    int rc = OUT_REPLACEABLE, entries = 0, marker = 0;
    struct dirent *e;
    while (rc == OUT_REPLACEABLE && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        entries++;
        struct stat es;
        if (fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(es.st_mode)) {
            snprintf(why, n, "holds '%.64s', which is not a regular file", e->d_name);
            rc = OUT_FOREIGN;
        } else if (!dump_name(e->d_name)) {
            snprintf(why, n, "holds '%.64s', which no rnnsweep dump writes", e->d_name);
            rc = OUT_FOREIGN;
        } else if (strcmp(e->d_name, DUMP_MARKER) == 0) {
            marker = marker_ok(dirfd(d), e->d_name);
        }
    }
    closedir(d);
    if (rc == OUT_REPLACEABLE && entries && !marker) {
        snprintf(why, n, "is not empty and not an rnnsweep dump (no valid " DUMP_MARKER " marker)");
        rc = OUT_FOREIGN;
    }
    return rc;
}

/* Remove the directory `dir` of a dump: its regular files with dump names,
 * then the directory itself (kept if anything else is in it).  0 if gone. */
static int rm_dump(const char *dir)
{
    chmod(dir, 0700); /* a read-only dump's files can be removed too */
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct dirent *e;
    struct stat es;
    while ((e = readdir(d)))
        if (dump_name(e->d_name) && fstatat(dirfd(d), e->d_name, &es, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(es.st_mode))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
    return rmdir(dir);
}

static int out_open(outdir *o, const char *cmd, const char *dir)
{
    memset(o, 0, sizeof *o);
    if (!dir || !*dir) {
        fprintf(stderr, "rnnsweep %s: --out DIR is required\n", cmd);
        return -1;
    }
    if (strlen(dir) + 16 >= PATH_MAX) {
        fprintf(stderr, "rnnsweep %s: --out: path too long\n", cmd);
        return -1;
    }
    /* Without trailing slashes: "link/" would make lstat follow a symlink. */
    snprintf(o->final, sizeof o->final, "%s", dir);
    size_t n = strlen(o->final);
    while (n > 1 && o->final[n - 1] == '/')
        o->final[--n] = 0;
    const char *base = strrchr(o->final, '/') ? strrchr(o->final, '/') + 1 : o->final;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        fprintf(stderr, "rnnsweep %s: --out: '%s' cannot be replaced; name the directory\n", cmd,
                dir);
        return -1;
    }
    char why[160];
    mode_t mode;
    if (out_classify(o->final, &mode, why, sizeof why) == OUT_FOREIGN) {
        fprintf(stderr, "rnnsweep %s: --out: '%s' %s; nothing written\n", cmd, dir, why);
        return -1;
    }
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", o->final);
    if (!mkdtemp(o->tmp)) {
        fprintf(stderr, "rnnsweep %s: --out: cannot create '%s' here: %s\n", cmd, dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Put the finished dump o->tmp (mode set) where the dump `old` stands, and
 * remove the old one; the old directory is checked once more after it has
 * been moved aside, and put back if it is no longer replaceable (something
 * was added meanwhile).  0; -1 with errno (EEXIST: no longer ours), o->tmp
 * then holding the new dump; -2 if the old directory could not be put back
 * (it is then at o->tmp or o->tmp.old, and nothing may be removed). */
static int out_replace(outdir *o)
{
    char old[PATH_MAX + 8], why[160];
    mode_t mode;
    snprintf(old, sizeof old, "%s.old", o->tmp);
    if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->final, RENAME_EXCHANGE) == 0) {
        /* Atomic swap: the old dump is now at o->tmp. */
        if (out_classify(o->tmp, &mode, why, sizeof why) != OUT_REPLACEABLE) {
            if (renameat2(AT_FDCWD, o->tmp, AT_FDCWD, o->final, RENAME_EXCHANGE) != 0)
                return -2;
            errno = EEXIST;
            return -1;
        }
        rm_dump(o->tmp);
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
        return -1;
    /* No exchange on this file system: move aside, move in, remove. */
    if (rename(o->final, old) != 0)
        return -1;
    if (out_classify(old, &mode, why, sizeof why) != OUT_REPLACEABLE) {
        if (rename(old, o->final) != 0)
            return -2;
        errno = EEXIST;
        return -1;
    }
    if (rename(o->tmp, o->final) != 0) {
        int err = errno;
        if (rename(old, o->final) != 0)
            return -2;
        errno = err;
        return -1;
    }
    rm_dump(old);
    return 0;
}

/* Move the finished dump into place, or remove it if anything failed.
 * Returns the exit code. */
static int out_close(outdir *o, const char *cmd)
{
    char p[PATH_MAX + 64], why[160];
    snprintf(p, sizeof p, "%s/" DUMP_MARKER, o->tmp);
    FILE *f = o->failed ? NULL : fopen(p, "w");
    if (!f || fputs(DUMP_MARKER_TEXT, f) < 0)
        o->failed = 1;
    if (f && fclose(f) != 0)
        o->failed = 1;
    if (o->failed) {
        rm_dump(o->tmp);
        fprintf(stderr, "rnnsweep %s: writing into '%s' failed; nothing written\n", cmd, o->final);
        return EXIT_FAIL;
    }
    mode_t mode = 0;
    int what = out_classify(o->final, &mode, why, sizeof why), rc = -1;
    if (what == OUT_ABSENT) {
        mode_t mask = umask(0);
        umask(mask);
        rc = chmod(o->tmp, 0777 & ~mask) == 0 ? rename(o->tmp, o->final) : -1;
    } else if (what == OUT_REPLACEABLE) {
        rc = chmod(o->tmp, mode) == 0 ? out_replace(o) : -1;
    } else {
        errno = EEXIST;
    }
    if (rc == -2) {
        fprintf(stderr, "rnnsweep %s: '%s' changed during the swap and could not be put back: "
                        "it is at '%s' or '%s.old'\n", cmd, o->final, o->tmp, o->tmp);
        return EXIT_FAIL;
    }
    if (rc != 0) {
        int err = errno;
        rm_dump(o->tmp);
        if (err == EEXIST) {
            fprintf(stderr, "rnnsweep %s: --out: '%s' changed meanwhile and is no longer empty "
                            "or an earlier dump; nothing written\n", cmd, o->final);
            return EXIT_USAGE;
        }
        fprintf(stderr, "rnnsweep %s: cannot move the dump to '%s': %s\n", cmd, o->final,
                strerror(err));
        return EXIT_FAIL;
    }
    fprintf(stderr, "rnnsweep %s: wrote %s\n", cmd, o->final);
    return EXIT_OK;
}

static void put_f8(outdir *o, const char *name, const double *d, int ndim, size_t s0, size_t s1,
                   size_t s2)
{
    char p[PATH_MAX + 64];
    const size_t shape[3] = {s0, s1, s2};
    snprintf(p, sizeof p, "%s/%s", o->tmp, name);
    if (!dump_name(name) || (!o->failed && npy_write_f8(p, d, ndim, shape) != 0))
        o->failed = 1;
}

static void put_batch(outdir *o, const task_batch *tb)
{
    const size_t T = tb->T, B = tb->B;
    put_f8(o, "x.npy", tb->x, 3, T, B, tb->I);
    put_f8(o, "mask.npy", tb->mask, 2, T, B, 0);
    if (tb->xent) {
        char p[PATH_MAX + 64];
        const size_t shape[2] = {T, B};
        snprintf(p, sizeof p, "%s/labels.npy", o->tmp);
        if (!o->failed && npy_write_i8(p, tb->labels, 2, shape) != 0)
            o->failed = 1;
    } else {
        put_f8(o, "target.npy", tb->target, 3, T, B, tb->O);
    }
}

/* Each tensor as prefix+name.npy with its SPEC §1 shape: b and b_out are
 * vectors, the matrices stay 2-D even with one column (W_in (N,1) for romo). */
static void put_params(outdir *o, const rnn_params *p, const char *prefix)
{
    for (int t = 0; t < RNN_NTENSORS; t++) {
        int rows, cols;
        char name[64];
        const int vector = t == RNN_B || t == RNN_B_OUT;
        rnn_tensor_shape(p, t, &rows, &cols);
        snprintf(name, sizeof name, "%s%s.npy", prefix, rnn_tensor_name(t));
        put_f8(o, name, rnn_tensor(p, t), vector ? 1 : 2, rows, cols, 0);
    }
}

static void put_config(outdir *o, const config *c, const char *extra)
{
    char p[PATH_MAX + 64], text[4096];
    snprintf(p, sizeof p, "%s/config.txt", o->tmp);
    config_canonical(c, text, sizeof text);
    FILE *f = fopen(p, "w");
    if (!f || fputs(text, f) < 0 || fputs(extra, f) < 0)
        o->failed = 1;
    if (f && fclose(f) != 0)
        o->failed = 1;
}

static cli_opt task_opts[] = {{"out", "DIR", "directory to write (required)", NULL}};
static cli_cmd task_cmd = {
    "task", "rnnsweep task --task T [--batch B] [--seed S] --out DIR",
    "Write the first training batch of the job: x.npy (T,B,I), mask.npy (T,B), and\n"
    "target.npy (T,B,O) for romo or labels.npy (T,B) for 2af/dms; plus config.txt.",
    task_opts, 1, 1};

int cmd_task(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&task_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    if (cli_resolve(&task_cmd, &c, 0))
        return EXIT_USAGE;
    gsl_rng *r = train_stream_rng(c.seed, STREAM_TASK);
    task_batch *tb = task_batch_alloc(c.task, (int)c.batch);
    if (!r || !tb) {
        fprintf(stderr, "rnnsweep task: out of memory\n");
        gsl_rng_free(r);
        task_batch_free(tb);
        return EXIT_FAIL;
    }
    task_batch_fill(tb, r);
    outdir o;
    rc = EXIT_USAGE;
    if (out_open(&o, "task", task_opts[0].value) == 0) {
        put_batch(&o, tb);
        put_config(&o, &c, "");
        rc = out_close(&o, "task");
    }
    gsl_rng_free(r);
    task_batch_free(tb);
    return rc;
}

static cli_opt grad_opts[] = {
    {"out", "DIR", "directory to write (required)", NULL},
    {"objective", "task|floss", "task: the rule's gradient of the task loss (default); "
                                "floss: the flossing objective's gradient", NULL},
};
static cli_cmd grad_cmd = {
    "gradient", "rnnsweep gradient [job options] [--objective task|floss] --out DIR",
    "One batch at initialisation: the batch files of `rnnsweep task`, the weights\n"
    "(W_in W_rec b W_out b_out, and B_fb for rflo), y.npy (T,B,O), loss.npy (), and\n"
    "grad_<name>.npy for each tensor (zeros where the objective does not reach).\n"
    "floss also writes Q0.npy (N,floss_k) and lyap.npy (B,floss_k); loss is then F.",
    grad_opts, 2, 1};

int cmd_gradient(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&grad_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    const char *obj = grad_opts[1].value ? grad_opts[1].value : "task";
    const int floss = strcmp(obj, "floss") == 0;
    if (!floss && strcmp(obj, "task") != 0) {
        fprintf(stderr, "rnnsweep gradient: --objective: unknown value '%s' (choose task or floss)\n",
                obj);
        return EXIT_USAGE;
    }
    /* config_resolve resets floss_target for a job that does not floss, but
     * the floss objective of this dump uses it */
    const double floss_target = c.floss_target;
    if (cli_resolve(&grad_cmd, &c, 0))
        return EXIT_USAGE;
    if (floss)
        c.floss_target = floss_target;
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j) {
        fprintf(stderr, "rnnsweep gradient: %s\n", err);
        return EXIT_FAIL;
    }
    const rnn_params *p = train_params(j);
    const task_batch *tb = train_next_batch(j);
    const int T = tb->T, B = tb->B, N = p->N, I = p->I, O = p->O, k = (int)c.floss_k;
    rnn_params g = {0};
    rnn_cache cache = {0};
    rule_work *rw = rule_work_alloc(T, B, N, I, O);
    floss_work *fw = floss ? floss_work_alloc(T, B, N, I, O, k) : NULL;
    double *lam = malloc((size_t)B * k * sizeof(double));
    outdir o;
    rc = EXIT_FAIL;
    if (rnn_params_alloc(&g, N, I, O) || rnn_cache_alloc(&cache, T, B, N, O) || !rw || !lam ||
        (floss && !fw)) {
        fprintf(stderr, "rnnsweep gradient: out of memory\n");
    } else if (out_open(&o, "gradient", grad_opts[0].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        double loss;
        if (floss) {
            floss_work_set_target(fw, c.floss_target);
            loss = floss_gradient(c.floss_mode, p, c.activation, c.alpha, tb->x,
                                  train_q0(j, 1), (int)c.lyap_warmup, &g, lam, fw);
            rnn_forward(p, c.activation, c.alpha, tb->x, &cache);
        } else {
            loss = rule_gradient(c.rule, p, train_feedback(j), c.activation, c.alpha, tb,
                                 &cache, &g, rw);
        }
        put_batch(&o, tb);
        put_params(&o, p, "");
        if (c.rule == RULE_RFLO)
            put_f8(&o, "B_fb.npy", train_feedback(j), 2, N, O, 0);
        put_f8(&o, "y.npy", cache.y, 3, T, B, O);
        put_f8(&o, "loss.npy", &loss, 0, 0, 0, 0);
        put_params(&o, &g, "grad_");
        char extra[128];
        snprintf(extra, sizeof extra, "objective=%s\n", obj);
        /* floss_target is omitted from the canonical text at its default;
         * a floss dump names it anyway (floss_mode is always there) */
        const int kt = config_key_find("floss_target");
        if (floss && config_is_default(&c, kt)) {
            char v[64];
            config_get(&c, kt, v, sizeof v);
            snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "floss_target=%s\n", v);
        }
        if (floss) {
            put_f8(&o, "Q0.npy", train_q0(j, 1), 2, N, k, 0);
            put_f8(&o, "lyap.npy", lam, 2, B, k, 0);
        }
        put_config(&o, &c, extra);
        rc = out_close(&o, "gradient");
    }
    free(lam);
    floss_work_free(fw);
    rule_work_free(rw);
    rnn_cache_free(&cache);
    rnn_params_free(&g);
    train_free(j);
    return rc;
}

static cli_opt lyap_opts[] = {
    {"out", "DIR", "directory to write (required)", NULL},
    {"autonomous", NULL, "no input; h0 ~ N(0,1) per unit, written as h0.npy (B,N)", NULL},
    {"steps", "T", "steps of the autonomous run (default 1000)", NULL},
};
static cli_cmd lyap_cmd = {
    "lyap", "rnnsweep lyap [job options] [--autonomous --steps T] --out DIR",
    "The first lyap_k Lyapunov exponents of the initial network, per trial, by the\n"
    "QR method with J_t = (1-alpha) I + alpha W_rec diag(f'(h_{t-1})): along the\n"
    "first training batch's inputs from h_0 = 0, or autonomously from random h0.\n"
    "Writes the weights, x.npy (zeros when autonomous), h0.npy (autonomous), Q0.npy\n"
    "(N,k), lyap.npy (B,k) in nats per step, and config.txt. Prints mean ± sd.",
    lyap_opts, 3, 1};

int cmd_lyap(int argc, char **argv)
{
    config c;
    int rc = cli_parse(&lyap_cmd, argc, argv, &c, NULL);
    if (rc)
        return rc > 0 ? EXIT_OK : EXIT_USAGE;
    const int autonomous = lyap_opts[1].value != NULL;
    long steps = 0;
    if (lyap_opts[2].value && !autonomous) {
        fprintf(stderr, "rnnsweep lyap: --steps applies only with --autonomous\n");
        return EXIT_USAGE;
    }
    if (autonomous) {
        steps = 1000;
        if (lyap_opts[2].value && cli_long(&lyap_cmd, &lyap_opts[2], 1, 100000000, &steps))
            return EXIT_USAGE;
    }
    if (cli_resolve(&lyap_cmd, &c, steps))
        return EXIT_USAGE;
    char err[256];
    train_job *j = train_alloc(&c, err);
    if (!j) {
        fprintf(stderr, "rnnsweep lyap: %s\n", err);
        return EXIT_FAIL;
    }
    const rnn_params *p = train_params(j);
    const task_batch *tb = train_next_batch(j);
    const int B = tb->B, N = p->N, I = p->I, O = p->O, k = (int)c.lyap_k;
    const int T = autonomous ? (int)steps : tb->T;
    double *lam = malloc((size_t)B * k * sizeof(double));
    double *h0 = autonomous ? malloc((size_t)B * N * sizeof(double)) : NULL;
    double *x0 = autonomous ? calloc((size_t)T * B * I, sizeof(double)) : NULL;
    lyap_work *lw = lyap_work_alloc(N, k, B);
    rnn_cache cache = {0};
    int ok = lam && lw && (!autonomous || (h0 && x0)) &&
             (autonomous || rnn_cache_alloc(&cache, T, B, N, O) == 0);
    outdir o;
    rc = EXIT_FAIL;
    if (!ok) {
        fprintf(stderr, "rnnsweep lyap: out of memory\n");
    } else if (out_open(&o, "lyap", lyap_opts[0].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        int lrc;
        if (autonomous) {
            gsl_rng *r = train_stream_rng(c.seed, STREAM_H0);
            for (size_t i = 0; i < (size_t)B * N; i++)
                h0[i] = gsl_ran_gaussian_ziggurat(r, 1.0);
            gsl_rng_free(r);
            lrc = lyap_autonomous(p, c.activation, c.alpha, h0, T, train_q0(j, 0), k,
                                  (int)c.lyap_warmup, (int)c.lyap_every_qr, lam, lw);
        } else {
            rnn_forward(p, c.activation, c.alpha, tb->x, &cache);
            lrc = lyap_driven(p, c.activation, c.alpha, &cache, train_q0(j, 0), k,
                              (int)c.lyap_warmup, (int)c.lyap_every_qr, lam, lw);
        }
        o.failed |= lrc != 0;
        put_params(&o, p, "");
        put_f8(&o, "x.npy", autonomous ? x0 : tb->x, 3, T, B, I);
        if (autonomous)
            put_f8(&o, "h0.npy", h0, 2, B, N, 0);
        put_f8(&o, "Q0.npy", train_q0(j, 0), 2, N, k, 0);
        put_f8(&o, "lyap.npy", lam, 2, B, k, 0);
        char extra[96];
        snprintf(extra, sizeof extra, "autonomous=%d\nsteps=%d\n", autonomous, T);
        put_config(&o, &c, extra);
        for (int i = 0; i < k && !o.failed; i++) {
            double mean, sd;
            lyap_mean_sd(lam, B, k, i, &mean, &sd);
            printf("lambda_%d = %.6f ± %.6f nats/step (%.6f per tau)\n", i + 1, mean, sd,
                   mean / c.alpha);
        }
        rc = out_close(&o, "lyap");
    }
    rnn_cache_free(&cache);
    lyap_work_free(lw);
    free(x0);
    free(h0);
    free(lam);
    train_free(j);
    return rc;
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
    char err[STORE_ERRLEN];
    rc = store_open(&st, export_opts[0].value, STORE_READONLY, err);
    if (rc != STORE_OK) {
        fprintf(stderr, "rnnsweep export: %s\n", err);
        return rc == STORE_REFUSED ? EXIT_USAGE : EXIT_FAIL;
    }
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
    } else if (out_open(&o, "export", export_opts[2].value) != 0) {
        rc = EXIT_USAGE;
    } else {
        put_params(&o, train_params_init(j), "init_");
        if (have_final)
            put_params(&o, &fin, "final_");
        else
            fprintf(stderr, "rnnsweep export: job %ld has no stored final weights (status %s)\n",
                    id, store_status_name(status) ? store_status_name(status) : "unknown");
        if (c.rule == RULE_RFLO)
            put_f8(&o, "B_fb.npy", train_feedback(j), 2, fin.N, fin.O, 0);
        char extra[64];
        snprintf(extra, sizeof extra, "job_id=%ld\n", id);
        put_config(&o, &c, extra);
        rc = out_close(&o, "export");
    }
    rnn_params_free(&fin);
    train_free(j);
    return rc;
}
