/* test_fuzz.h — what every fuzz input must satisfy (header only; used by
 * test_fuzz.c, the seeded mutation fuzzer, and test_fuzz_lf.c, libFuzzer's
 * entry point).
 *
 * fuzz_sweep_one: the bytes as a sweep file through sweep_load.  Refused:
 * one line "PATH: ..." or "PATH:LINE: ...".  Accepted: at least one job;
 * every field within its key's bounds, enums in range, reals finite and
 * never -0; every config resolved (config_resolve leaves it as it is); no
 * two jobs with one hash; the canonical text of each job read back through
 * config_set gives the same job (the first FUZZ_BIG_GRID jobs of a grid).
 *
 * fuzz_cli_one: the bytes as argv (one argument a line) through cli_parse
 * of a command with the job options, a positional argument, a flag and
 * valued options, then cli_long / cli_real / cli_resolve.  Returns 0 (its
 * output empty), 1 (help on stdout) or -1 (exactly one line on stderr,
 * "rnnsweep fuzz: ..."); a parsed job obeys the same bounds.
 *
 * Both return 0 if the input passed, else -1 with the reason in why[].  Both
 * measure the CPU time of the call in *cpu (seconds): it must stay below
 * FUZZ_CPU_LIMIT except for an accepted grid of more than FUZZ_BIG_GRID jobs
 * (a grid of 1e6 jobs, the largest allowed, takes ~6 s to expand and hash).
 * stdout and stderr are swapped for memory streams during cli_parse (glibc
 * lets stdout/stderr be assigned); sanitizer reports still reach fd 2.
 */
#ifndef RNNSWEEP_TEST_FUZZ_H
#define RNNSWEEP_TEST_FUZZ_H

#include "rnnsweep/cli.h"
#include "rnnsweep/config.h"
#include "rnnsweep/sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FUZZ_CPU_LIMIT 1.0
#define FUZZ_BIG_GRID 10000
#define FUZZ_WHY 512
#define FUZZ_MAX_ARGS 64

static double fuzz_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* 0 if every field of c is within its key's bounds (reals finite, not -0). */
static int fuzz_config_ok(const config *c, char *why, size_t n)
{
    size_t nk;
    const config_key *keys = config_keys(&nk);
    for (size_t k = 0; k < nk; k++) {
        const config_value cv = config_value_get(c, (int)k);
        if (keys[k].kind == CK_ENUM) {
            int v = cv.i, nch = 0;
            while (keys[k].choices[nch])
                nch++;
            if (v < 0 || v >= nch)
                return snprintf(why, n, "key %s: enum value %d out of range", keys[k].name, v), -1;
        } else if (keys[k].kind == CK_INT) {
            long v = cv.l;
            if (v < keys[k].min || v > keys[k].max)
                return snprintf(why, n, "key %s: %ld out of bounds", keys[k].name, v), -1;
        } else {
            double v = cv.d;
            if (!isfinite(v) || v < keys[k].min || v > keys[k].max || (v == 0 && signbit(v)))
                return snprintf(why, n, "key %s: %g out of bounds or -0", keys[k].name, v), -1;
        }
    }
    return 0;
}

static int fuzz_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The accepted sweep s: every job within bounds, resolved, distinct, and
 * its canonical text read back gives the same job. */
static int fuzz_sweep_jobs_ok(const sweep *s, char *why, size_t n)
{
    /* A big grid: its first FUZZ_BIG_GRID jobs (hashing is most of the cost). */
    size_t nj = sweep_count(s) < FUZZ_BIG_GRID ? sweep_count(s) : FUZZ_BIG_GRID;
    if (nj == 0)
        return snprintf(why, n, "accepted with no jobs"), -1;
    uint64_t *h = malloc(nj * sizeof *h);
    if (!h)
        return snprintf(why, n, "out of memory"), -1;
    int rc = 0;
    for (size_t i = 0; i < nj && rc == 0; i++) {
        const config *c = sweep_job(s, i);
        config r = *c;
        char err[CONFIG_ERRLEN];
        h[i] = config_hash(c);
        if (fuzz_config_ok(c, why, n) != 0)
            rc = -1;
        else if (config_resolve(&r, 0, err) != 0 || memcmp(&r, c, sizeof r) != 0)
            rc = -1, snprintf(why, n, "job %zu is not resolved: %s", i, err);
        if (rc || i >= 1000)
            continue;
        /* Canonical text -> config_set -> the same job. */
        char text[4096], *line = text;
        config back;
        config_default(&back);
        config_canonical(c, text, sizeof text);
        while (*line && rc == 0) {
            char *nl = strchr(line, '\n'), *eq = strchr(line, '=');
            *nl = 0;
            *eq = 0;
            int k = config_key_find(line);
            if (k < 0 || config_set(&back, k, eq + 1, err) != 0)
                rc = -1, snprintf(why, n, "job %zu: canonical %.40s=%.60s does not read back", i,
                                  line, eq + 1);
            line = nl + 1;
        }
        if (rc == 0 && config_hash(&back) != h[i])
            rc = -1, snprintf(why, n, "job %zu: canonical text reads back as another job", i);
    }
    if (rc == 0) {
        qsort(h, nj, sizeof *h, fuzz_cmp_u64);
        for (size_t i = 1; i < nj && rc == 0; i++)
            if (h[i] == h[i - 1])
                rc = -1, snprintf(why, n, "two jobs with hash %016llx", (unsigned long long)h[i]);
    }
    free(h);
    return rc;
}

/* Write data[0..len) to path, load it as a sweep file, check the result. */
static int fuzz_sweep_one(const char *path, const unsigned char *data, size_t len, double *cpu,
                          size_t *njobs, char why[FUZZ_WHY])
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        return snprintf(why, FUZZ_WHY, "cannot write %s", path), -1;
    char err[SWEEP_ERRLEN] = "";
    double t0 = fuzz_cpu();
    sweep *s = sweep_load(path, err);
    *cpu = fuzz_cpu() - t0;
    *njobs = s ? sweep_count(s) : 0;
    int rc = 0;
    size_t pl = strlen(path);
    if (!s) {
        if (strncmp(err, path, pl) != 0 || err[pl] != ':' || strchr(err, '\n') || !err[pl + 1])
            rc = -1, snprintf(why, FUZZ_WHY, "refused without a one-line 'PATH:' message: '%.400s'",
                              err);
    } else {
        rc = fuzz_sweep_jobs_ok(s, why, FUZZ_WHY);
    }
    if (rc == 0 && *cpu > FUZZ_CPU_LIMIT && *njobs <= FUZZ_BIG_GRID)
        rc = -1, snprintf(why, FUZZ_WHY, "took %.2f s of CPU (%zu jobs)", *cpu, *njobs);
    sweep_free(s);
    return rc;
}

static cli_opt fuzz_opts[] = {
    {"out", "DIR", "a directory", NULL},
    {"check", NULL, "a flag", NULL},
    {"steps", "T", "an integer in 1..1e8", NULL},
    {"grace", "SEC", "a real in 0..1e6", NULL},
};
static cli_cmd fuzz_cmd = {"fuzz", "rnnsweep fuzz [job options] [FILE]", "The fuzz target.",
                           fuzz_opts, 4, 1};

/* Lines of output in text (a last line without '\n' counts). */
static int fuzz_lines(const char *text)
{
    int n = 0;
    for (const char *s = text; *s; s++)
        n += *s == '\n' || !s[1];
    return n;
}

/* One call of the option parser on data[0..len) as argv, one argument a line. */
static int fuzz_cli_one(const unsigned char *data, size_t len, double *cpu, char why[FUZZ_WHY])
{
    char *buf = malloc(len + 1), *argv[FUZZ_MAX_ARGS + 1];
    if (!buf)
        return snprintf(why, FUZZ_WHY, "out of memory"), -1;
    memcpy(buf, data, len);
    buf[len] = 0;
    int argc = 0;
    argv[argc++] = "fuzz";
    for (char *s = buf; argc < FUZZ_MAX_ARGS && s;) {
        char *nl = memchr(s, '\n', len - (size_t)(s - buf));
        if (nl)
            *nl = 0;
        if (nl || *s)
            argv[argc++] = s;
        s = nl ? nl + 1 : NULL;
    }
    argv[argc] = NULL;
    for (int i = 0; i < fuzz_cmd.nopts; i++)
        fuzz_opts[i].value = NULL;

    char *out = NULL, *err = NULL;
    size_t nout = 0, nerr = 0;
    FILE *fo = open_memstream(&out, &nout), *fe = open_memstream(&err, &nerr);
    FILE *so = stdout, *se = stderr;
    if (!fo || !fe) {
        free(buf);
        return snprintf(why, FUZZ_WHY, "no memory stream"), -1;
    }
    stdout = fo;
    stderr = fe;
    config job;
    const char *pos;
    double t0 = fuzz_cpu();
    int rc = cli_parse(&fuzz_cmd, argc, argv, &job, &pos), rc2 = 0;
    long steps = 0;
    double grace;
    if (rc == 0 && fuzz_opts[2].value)
        rc2 = cli_long(&fuzz_cmd, &fuzz_opts[2], 1, 100000000, &steps);
    if (rc == 0 && rc2 == 0 && fuzz_opts[3].value)
        rc2 = cli_real(&fuzz_cmd, &fuzz_opts[3], 0, 1e6, &grace);
    config parsed = job;
    if (rc == 0 && rc2 == 0)
        rc2 = cli_resolve(&fuzz_cmd, &job, steps);
    *cpu = fuzz_cpu() - t0;
    stdout = so;
    stderr = se;
    fclose(fo);
    fclose(fe);

    int res = 0;
    if (rc != 0 && rc != 1 && rc != -1)
        res = -1, snprintf(why, FUZZ_WHY, "cli_parse returned %d", rc);
    else if (rc == 1 && !strstr(out, "usage: "))
        res = -1, snprintf(why, FUZZ_WHY, "help without a usage line");
    else if ((rc == -1 || rc2 == -1) &&
             (fuzz_lines(err) != 1 || strncmp(err, "rnnsweep fuzz: ", 15) != 0 || nout))
        res = -1, snprintf(why, FUZZ_WHY, "an error without exactly one 'rnnsweep fuzz:' line: "
                                          "'%.400s'", err);
    else if (rc == 0 && rc2 == 0 && (nout || nerr))
        res = -1, snprintf(why, FUZZ_WHY, "success with output: '%.400s'", nerr ? err : out);
    else if (rc == 0 && fuzz_config_ok(&parsed, why, FUZZ_WHY) != 0)
        res = -1;
    else if (*cpu > FUZZ_CPU_LIMIT)
        res = -1, snprintf(why, FUZZ_WHY, "took %.2f s of CPU", *cpu);
    free(out);
    free(err);
    free(buf);
    return res;
}

#endif
