/* outdir.c — the `--out DIR` of the dump commands: which directories may be
 * replaced, the temporary sibling, the atomic swap, and the files a dump
 * writes (outdir.h has the rules).
 *
 * DIR and its entries are inspected without following a symlink (lstat,
 * O_NOFOLLOW, fstatat with AT_SYMLINK_NOFOLLOW); a directory is ours when
 * it holds a valid marker and only regular files with names from
 * dump_name's list, and only such files are ever removed.
 */
#include "outdir.h"
#include "rnnsweep/cli.h"
#include "rnnsweep/npy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Every dump holds this marker; its first line starts with DUMP_FORMAT. */
#define DUMP_MARKER ".rnnsweep-dump"
#define DUMP_FORMAT "rnnsweep dump, format "
#define DUMP_MARKER_TEXT DUMP_FORMAT "1\n"

/* `cmd` is the command's name, optionally followed by the option that names
 * the directory ("export --csv"; default --out): messages say both. */
static int cmd_len(const char *cmd)
{
    const char *sp = strchr(cmd, ' ');
    return sp ? (int)(sp - cmd) : (int)strlen(cmd);
}
static const char *cmd_opt(const char *cmd)
{
    const char *sp = strchr(cmd, ' ');
    return sp ? sp + 1 : "--out";
}
#define CMD_ARGS(cmd) cmd_len(cmd), cmd, cmd_opt(cmd)

/* What is at an --out path. */
enum { OUT_ABSENT, OUT_REPLACEABLE, OUT_FOREIGN };

/* 1 if `name` is a file some dump of ours writes. */
static int dump_name(const char *name)
{
    static const char *const fixed[] = {DUMP_MARKER, "config.txt", "x.npy", "mask.npy",
                                        "labels.npy", "target.npy", "y.npy", "loss.npy",
                                        "B_fb.npy", "Q0.npy", "lyap.npy", "h0.npy",
                                        "jobs.csv", "curves.csv", "lyapunov.csv", "diagnostics.csv"};
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

int outdir_open(outdir *o, const char *cmd, const char *dir)
{
    memset(o, 0, sizeof *o);
    if (!dir || !*dir) {
        fprintf(stderr, "rnnsweep %.*s: %s DIR is required\n", CMD_ARGS(cmd));
        return -1;
    }
    if (strlen(dir) + 16 >= PATH_MAX) {
        fprintf(stderr, "rnnsweep %.*s: %s: path too long\n", CMD_ARGS(cmd));
        return -1;
    }
    /* Without trailing slashes: "link/" would make lstat follow a symlink. */
    snprintf(o->final, sizeof o->final, "%s", dir);
    size_t n = strlen(o->final);
    while (n > 1 && o->final[n - 1] == '/')
        o->final[--n] = 0;
    const char *base = strrchr(o->final, '/') ? strrchr(o->final, '/') + 1 : o->final;
    if (strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        fprintf(stderr, "rnnsweep %.*s: %s: '%s' cannot be replaced; name the directory\n", CMD_ARGS(cmd),
                dir);
        return -1;
    }
    char why[160];
    mode_t mode;
    if (out_classify(o->final, &mode, why, sizeof why) == OUT_FOREIGN) {
        fprintf(stderr, "rnnsweep %.*s: %s: '%s' %s; nothing written\n", CMD_ARGS(cmd), dir, why);
        return -1;
    }
    snprintf(o->tmp, sizeof o->tmp, "%s.tmp.XXXXXX", o->final);
    if (!mkdtemp(o->tmp)) {
        fprintf(stderr, "rnnsweep %.*s: %s: cannot create '%s' here: %s\n", CMD_ARGS(cmd), dir,
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

int outdir_close(outdir *o, const char *cmd)
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
        fprintf(stderr, "rnnsweep %.*s: writing into '%s' failed; nothing written\n", cmd_len(cmd), cmd, o->final);
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
        fprintf(stderr, "rnnsweep %.*s: '%s' changed during the swap and could not be put back: "
                        "it is at '%s' or '%s.old'\n", cmd_len(cmd), cmd, o->final, o->tmp, o->tmp);
        return EXIT_FAIL;
    }
    if (rc != 0) {
        int err = errno;
        rm_dump(o->tmp);
        if (err == EEXIST) {
            fprintf(stderr, "rnnsweep %.*s: %s: '%s' changed meanwhile and is no longer empty "
                            "or an earlier dump; nothing written\n", CMD_ARGS(cmd), o->final);
            return EXIT_USAGE;
        }
        fprintf(stderr, "rnnsweep %.*s: cannot move the dump to '%s': %s\n", cmd_len(cmd), cmd, o->final,
                strerror(err));
        return EXIT_FAIL;
    }
    fprintf(stderr, "rnnsweep %.*s: wrote %s\n", cmd_len(cmd), cmd, o->final);
    return EXIT_OK;
}

void outdir_put_f8(outdir *o, const char *name, const double *d, int ndim, size_t s0, size_t s1,
                   size_t s2)
{
    char p[PATH_MAX + 64];
    const size_t shape[3] = {s0, s1, s2};
    snprintf(p, sizeof p, "%s/%s", o->tmp, name);
    if (!dump_name(name) || (!o->failed && npy_write_f8(p, d, ndim, shape) != 0))
        o->failed = 1;
}

void outdir_put_i8(outdir *o, const char *name, const long *d, int ndim, size_t s0, size_t s1)
{
    char p[PATH_MAX + 64];
    const size_t shape[2] = {s0, s1};
    snprintf(p, sizeof p, "%s/%s", o->tmp, name);
    if (!dump_name(name) || (!o->failed && npy_write_i8(p, d, ndim, shape) != 0))
        o->failed = 1;
}

void outdir_put_params(outdir *o, const rnn_params *p, const char *prefix)
{
    for (int t = 0; t < RNN_NTENSORS; t++) {
        int rows, cols;
        char name[64];
        const int vector = t == RNN_B || t == RNN_B_OUT;
        rnn_tensor_shape(p, t, &rows, &cols);
        snprintf(name, sizeof name, "%s%s.npy", prefix, rnn_tensor_name(t));
        outdir_put_f8(o, name, rnn_tensor(p, t), vector ? 1 : 2, rows, cols, 0);
    }
}

FILE *outdir_file(outdir *o, const char *name)
{
    char p[PATH_MAX + 64];
    if (o->failed || !dump_name(name))
        return o->failed = 1, NULL;
    snprintf(p, sizeof p, "%s/%s", o->tmp, name);
    FILE *f = fopen(p, "w");
    if (!f)
        o->failed = 1;
    return f;
}

void outdir_put_config(outdir *o, const config *c, const char *extra)
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
