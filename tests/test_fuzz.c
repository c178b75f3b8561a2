/* test_fuzz.c — a seeded mutation fuzzer for the sweep-file and option parsers.
 *
 * usage: test_fuzz CORPUS_DIR [RNNSWEEP_EXE [SECONDS]]
 *
 * Inputs are mutations of the seed corpus (CORPUS_DIR/sweep/ *.ini and
 * CORPUS_DIR/args/ *.args, one argument a line): bit flips, interesting
 * bytes, tokens of the syntax (keys, separators, ranges, sections, CRLF,
 * BOM, UTF-8, numbers at the edges of their ranges), deletions,
 * duplications, splices and long runs that reach the line, section-name and
 * value limits.  The sequence is fixed by the seed (RNNSWEEP_FUZZ_SEED,
 * default 1), so input #i is the same on every run; SECONDS (default 20)
 * only bounds how many are tried.  Each input goes through the library in
 * process (test_fuzz.h: sweep_load, or cli_parse and its helpers, under
 * ASan/UBSan in the sanitizer build), and every 10th one also through the
 * real binary — `rnnsweep sweep FILE --db PATH --check`, or `rnnsweep sweep
 * ARGS --check` — which must exit 0 or 2 (2 with one line on stderr), agree
 * with the library on the job count, write nothing, use at most 1 s of CPU
 * (more only for grids over 10,000 jobs) and end within 20 s of wall time.
 *
 * The input under test is always in the scratch directory as current.ini /
 * current.args, so a crash leaves it behind; a failing input is saved as
 * fail-N.* there and the directory is kept.  Exit 1 if anything failed.
 */
#include "test_fuzz.h"
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT 4096
#define EXEC_EVERY 10
#define EXEC_WALL_LIMIT 20

typedef struct blob { unsigned char *d; size_t n; } blob;
typedef struct corpus { blob *b; size_t n; } corpus;

static uint64_t rng_state;
static char dir[512];
static int nfail_saved;

static uint64_t rnd(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of path, in name order. */
static corpus load_corpus(const char *path)
{
    corpus c = {0};
    struct dirent **names;
    int n = scandir(path, &names, NULL, by_name);
    if (n < 0) {
        fprintf(stderr, "test_fuzz: cannot read corpus %s: %s\n", path, strerror(errno));
        exit(1);
    }
    c.b = calloc((size_t)n, sizeof *c.b);
    for (int i = 0; i < n; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", path, names[i]->d_name);
        struct stat st;
        FILE *f = names[i]->d_name[0] != '.' && stat(p, &st) == 0 && S_ISREG(st.st_mode)
                      ? fopen(p, "rb") : NULL;
        if (f) {
            blob *b = &c.b[c.n++];
            b->d = malloc((size_t)st.st_size + 1);
            b->n = fread(b->d, 1, (size_t)st.st_size, f);
            fclose(f);
        }
        free(names[i]);
    }
    free(names);
    if (!c.n) {
        fprintf(stderr, "test_fuzz: corpus %s is empty\n", path);
        exit(1);
    }
    return c;
}

static const char *const sweep_tokens[] = {
    "=", " = ", ":", ",", ", ", "..", " .. ", "[", "]", "[s]\n", "[fig 1]\n", "\n", "\r\n", "\r",
    "#", "# c\n", ";", " ; c", "\t", "  ", "\xef\xbb\xbf", "\xc3\xa9", "\xce\xb1", "\xf0\x9f\x98\x80",
    "-0", "-0.0", "0", "1", "-1", "0.5", "1e308", "1e-320", "9007199254740991", "9007199254740992",
    "65536", "65537", "1000000", "nan", "inf", "0x1p3", "1..3", "0..99", "5..2", "romo", "2af",
    "dms", "bptt", "eprop", "rflo", "tanh", "relu", "full", "local", "task", "rule", "gain", "lr",
    "seed", "hidden", "batch", "iters", "alpha", "activation", "log_every", "floss_iters",
    "floss-lr", "floss_k", "floss_mode", "floss_every", "lyap_k", "lyap_warmup", "lyap_every_qr",
    "lyap_every", "hidden = 1\n", "lyap_k = 1\n", "seed = 0..3\n"};

static const char *const arg_tokens[] = {
    "\n", "--", "-", "=", "--help", "-h", "--out", "--check", "--steps", "--grace", "--db",
    "--journal", "delete", "wal", "--max-attempts", "--progress", "--no-weights", "--job-time-limit",
    "--task", "--rule", "--gain", "--lr", "--seed", "--hidden", "--batch", "--iters", "--alpha",
    "--lyap-k", "--lyap_warmup", "--floss-k", "--floss-mode", "s.ini", "none.db", "-0", "1e308",
    "1e-320", "nan", "inf", "-1", "9007199254740992", "1e400", "\xc3\xa9"};

/* Insert src[0..n) at position at of b (capped at FUZZ_MAX_INPUT). */
static void insert(blob *b, size_t at, const void *src, size_t n)
{
    if (b->n + n > FUZZ_MAX_INPUT)
        n = FUZZ_MAX_INPUT - b->n;
    memmove(b->d + at + n, b->d + at, b->n - at);
    memcpy(b->d + at, src, n);
    b->n += n;
}

/* One random mutation of b (capacity FUZZ_MAX_INPUT). */
static void mutate(blob *b, const corpus *c, const char *const *tok, size_t ntok)
{
    static const unsigned char bytes[] = {'\n', '\r', '[', ']', '=', ',', '.', '#', ';', ' ', '-',
                                          '0', '9', 'e', ':', '\t', 0, 0x80, 0xc3, 0x7f};
    size_t at = below(b->n + 1);
    /* Weights (of 16): bit flip 1, byte 2, token 6, delete 2, duplicate 2,
     * splice 1, long run 2: mostly text that stays text. */
    static const int op_of[16] = {0, 1, 1, 2, 2, 2, 2, 2, 2, 4, 4, 5, 5, 6, 7, 7};
    switch (op_of[below(16)]) {
    case 0: /* flip a bit */
        if (b->n)
            b->d[below(b->n)] ^= (unsigned char)(1u << below(8));
        break;
    case 1: /* an interesting byte */
        if (b->n)
            b->d[below(b->n)] = bytes[below(sizeof bytes)];
        break;
    case 2: { /* a token */
        const char *t = tok[below(ntok)];
        insert(b, at, t, strlen(t));
        break;
    }
    case 4: { /* delete a span */
        size_t n = 1 + below(b->n > 16 ? 16 : b->n + 1);
        if (at + n <= b->n) {
            memmove(b->d + at, b->d + at + n, b->n - at - n);
            b->n -= n;
        }
        break;
    }
    case 5: { /* duplicate a span */
        if (!b->n)
            break;
        size_t from = below(b->n), n = 1 + below(b->n - from < 64 ? b->n - from : 64);
        unsigned char tmp[64];
        memcpy(tmp, b->d + from, n);
        insert(b, at, tmp, n);
        break;
    }
    case 6: { /* splice in a piece of another corpus entry */
        const blob *o = &c->b[below(c->n)];
        size_t from = below(o->n), n = below(o->n - from + 1);
        insert(b, at, o->d + from, n > 256 ? 256 : n);
        break;
    }
    default: { /* a long run: 'a' (names), '0' (values), 'x' or two-byte é (lines) */
        static const char *const runs[] = {"a", "0", "x", "\xc3\xa9", " "};
        const char *r = runs[below(5)];
        size_t reps = 40 + below(230);
        for (size_t i = 0; i < reps && b->n + strlen(r) <= FUZZ_MAX_INPUT; i++, at += strlen(r))
            insert(b, at, r, strlen(r));
        break;
    }
    }
}

static void save_failure(const char *ext, const blob *b, size_t index, const char *why)
{
    char p[700];
    snprintf(p, sizeof p, "%s/fail-%d.%s", dir, ++nfail_saved, ext);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(b->d, 1, b->n, f);
        fclose(f);
    }
    printf("FAIL input #%zu (%s): %s\n     saved as %s\n", index, ext, why, p);
}

/* Run argv in cwd with stdout/stderr into files; CPU seconds in *cpu.
 * Returns the wait status, or -1 if it ran over the wall-time limit (killed). */
static int run_exe(char *const argv[], const char *cwd, double *cpu)
{
    char out[700], err[700];
    snprintf(out, sizeof out, "%s/exec.out", dir);
    snprintf(err, sizeof err, "%s/exec.err", dir);
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0 || chdir(cwd) != 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = -1;
    struct rusage ru;
    struct timespec limit = {EXEC_WALL_LIMIT, 0};
    double t_end = clock_now() + EXEC_WALL_LIMIT;
    while (wait4(pid, &status, WNOHANG, &ru) == 0) {
        double left = t_end - clock_now();
        if (left <= 0) {
            kill(pid, SIGKILL);
            wait4(pid, &status, 0, &ru);
            status = -1;
            break;
        }
        limit.tv_sec = (time_t)left;
        limit.tv_nsec = (long)((left - (double)limit.tv_sec) * 1e9);
        sigtimedwait(&chld, NULL, &limit); /* woken by the child's exit */
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    *cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
    return status;
}

static char *slurp(const char *name, size_t *n)
{
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    char *s = calloc(1, 1 << 16);
    *n = f ? fread(s, 1, (1 << 16) - 1, f) : 0;
    if (f)
        fclose(f);
    return s;
}

/* Names in the work directory, as one string (to see that nothing was written). */
static void listing(const char *work, char *buf, size_t n)
{
    struct dirent **names;
    int k = scandir(work, &names, NULL, by_name);
    buf[0] = 0;
    for (int i = 0; i < k; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s/", names[i]->d_name);
        free(names[i]);
    }
    if (k >= 0)
        free(names);
}

/* The binary on one input: exit 0 or 2, one line when 2, nothing written,
 * the job count of the library (jobs >= 0 for sweep files), CPU time. */
static int exec_one(const char *exe, char *const *args, long jobs, char why[FUZZ_WHY])
{
    char work[600], before[4096], after[4096];
    snprintf(work, sizeof work, "%s/work", dir);
    listing(work, before, sizeof before);
    double cpu;
    int st = run_exe((char *const *)args, work, &cpu);
    (void)exe;
    size_t nout, nerr;
    char *out = slurp("exec.out", &nout), *err = slurp("exec.err", &nerr);
    listing(work, after, sizeof after);
    int rc = 0, code = st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    const char *counted = strstr(out, " jobs\n");
    long n = -1;
    if (counted) {
        const char *p = counted;
        while (p > out && p[-1] >= '0' && p[-1] <= '9')
            p--;
        n = strtol(p, NULL, 10);
    }
    if (st == -1)
        rc = -1, snprintf(why, FUZZ_WHY, "the binary ran over %d s", EXEC_WALL_LIMIT);
    else if (!WIFEXITED(st))
        rc = -1, snprintf(why, FUZZ_WHY, "the binary died of signal %d: %.300s",
                          WIFSIGNALED(st) ? WTERMSIG(st) : 0, err);
    else if (code != 0 && code != 2)
        rc = -1, snprintf(why, FUZZ_WHY, "the binary exited %d: %.300s", code, err);
    else if (code == 2 && fuzz_lines(err) != 1)
        rc = -1, snprintf(why, FUZZ_WHY, "exit 2 without exactly one line: '%.300s'", err);
    else if (strcmp(before, after) != 0)
        rc = -1, snprintf(why, FUZZ_WHY, "the binary wrote into its directory: %.200s", after);
    else if (jobs >= 0 && (code == 0) != (jobs > 0))
        rc = -1, snprintf(why, FUZZ_WHY, "the binary exited %d, the library found %ld jobs", code,
                          jobs);
    else if (jobs > 0 && n != jobs)
        rc = -1, snprintf(why, FUZZ_WHY, "the binary counted %ld jobs, the library %ld", n, jobs);
    else if (cpu > FUZZ_CPU_LIMIT && n <= FUZZ_BIG_GRID)
        rc = -1, snprintf(why, FUZZ_WHY, "the binary took %.2f s of CPU", cpu);
    free(out);
    free(err);
    return rc;
}

typedef struct stats { size_t inputs, accepted, refused, execs, failed; double worst; } stats;

static void fuzz_sweeps(const corpus *c, const char *exe, double until, stats *s)
{
    char path[600], why[FUZZ_WHY], db[600];
    snprintf(path, sizeof path, "%s/current.ini", dir);
    snprintf(db, sizeof db, "%s/work/none.db", dir);
    blob b = {malloc(FUZZ_MAX_INPUT), 0};
    for (size_t i = 0; clock_now() < until && s->failed < 10; i++) {
        const blob *seed = &c->b[i % c->n];
        b.n = seed->n < FUZZ_MAX_INPUT ? seed->n : FUZZ_MAX_INPUT;
        memcpy(b.d, seed->d, b.n);
        for (size_t m = 1 + below(3); m > 0; m--)
            mutate(&b, c, sweep_tokens, sizeof sweep_tokens / sizeof *sweep_tokens);
        double cpu;
        size_t jobs;
        s->inputs++;
        if (fuzz_sweep_one(path, b.d, b.n, &cpu, &jobs, why) != 0) {
            s->failed++;
            save_failure("ini", &b, i, why);
            continue;
        }
        jobs ? s->accepted++ : s->refused++;
        if (jobs <= FUZZ_BIG_GRID && cpu > s->worst)
            s->worst = cpu;
        if (exe && i % EXEC_EVERY == 0) {
            char *argv[] = {(char *)exe, "sweep", path, "--db", db, "--check", NULL};
            s->execs++;
            if (exec_one(exe, argv, (long)jobs, why) != 0) {
                s->failed++;
                save_failure("ini", &b, i, why);
            }
        }
    }
    free(b.d);
}

static void fuzz_args(const corpus *c, const char *exe, double until, stats *s)
{
    char path[600], why[FUZZ_WHY];
    snprintf(path, sizeof path, "%s/current.args", dir);
    blob b = {malloc(FUZZ_MAX_INPUT + 1), 0};
    for (size_t i = 0; clock_now() < until && s->failed < 10; i++) {
        const blob *seed = &c->b[i % c->n];
        b.n = seed->n < FUZZ_MAX_INPUT ? seed->n : FUZZ_MAX_INPUT;
        memcpy(b.d, seed->d, b.n);
        for (size_t m = 1 + below(3); m > 0; m--)
            mutate(&b, c, arg_tokens, sizeof arg_tokens / sizeof *arg_tokens);
        FILE *f = fopen(path, "wb");
        if (f) {
            fwrite(b.d, 1, b.n, f);
            fclose(f);
        }
        double cpu;
        s->inputs++;
        int rc = fuzz_cli_one(b.d, b.n, &cpu, why);
        if (rc != 0) {
            s->failed++;
            save_failure("args", &b, i, why);
            continue;
        }
        if (cpu > s->worst)
            s->worst = cpu;
        if (exe && i % EXEC_EVERY == 0) {
            /* rnnsweep sweep --db none.db ARGS --check: the same arguments, one a line. */
            char *argv[FUZZ_MAX_ARGS + 8];
            int argc = 0;
            argv[argc++] = (char *)exe;
            argv[argc++] = "sweep";
            argv[argc++] = "--db";
            argv[argc++] = "none.db";
            b.d[b.n] = 0;
            for (char *p = (char *)b.d; p && argc < FUZZ_MAX_ARGS + 4;) {
                char *nl = memchr(p, '\n', b.n - (size_t)(p - (char *)b.d));
                if (nl)
                    *nl = 0;
                if (nl || *p)
                    argv[argc++] = p;
                p = nl ? nl + 1 : NULL;
            }
            argv[argc++] = "--check";
            argv[argc] = NULL;
            s->execs++;
            if (exec_one(exe, argv, -1, why) != 0) {
                s->failed++;
                save_failure("args", &b, i, why);
            }
        }
    }
    free(b.d);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: test_fuzz CORPUS_DIR [RNNSWEEP_EXE [SECONDS]]\n");
        return 2;
    }
    /* Absolute: the binary runs in its own working directory. */
    const char *exe = argc > 2 && *argv[2] ? realpath(argv[2], NULL) : NULL;
    if (argc > 2 && *argv[2] && !exe) {
        fprintf(stderr, "test_fuzz: %s: %s\n", argv[2], strerror(errno));
        return 1;
    }
    double seconds = argc > 3 ? atof(argv[3]) : 20;
    const char *seed_env = getenv("RNNSWEEP_FUZZ_SEED");
    rng_state = seed_env ? strtoull(seed_env, NULL, 10) : 1;
    char p[1024];
    snprintf(p, sizeof p, "%s/sweep", argv[1]);
    corpus sweeps = load_corpus(p);
    snprintf(p, sizeof p, "%s/args", argv[1]);
    corpus args = load_corpus(p);

    snprintf(dir, sizeof dir, "%s/test_fuzz.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    /* The binary's working directory: a small valid sweep file to name. */
    snprintf(p, sizeof p, "%s/work", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/work/s.ini", dir);
    FILE *f = fopen(p, "w");
    fputs("hidden = 4\nlyap_k = 1\ngain = 0.5, 1\n", f);
    fclose(f);
    printf("seed %llu, %zu sweep and %zu argument seeds, %.0f s, scratch %s%s\n",
           (unsigned long long)(seed_env ? strtoull(seed_env, NULL, 10) : 1), sweeps.n, args.n,
           seconds, dir, exe ? "" : " (no binary: library only)");

    stats ss = {0}, sa = {0};
    double t0 = clock_now();
    fuzz_sweeps(&sweeps, exe, t0 + seconds / 2, &ss);
    fuzz_args(&args, exe, t0 + seconds, &sa);
    printf("sweep files: %zu inputs (%zu accepted, %zu refused), %zu through the binary, "
           "slowest %.3f s CPU\n", ss.inputs, ss.accepted, ss.refused, ss.execs, ss.worst);
    printf("arguments:   %zu inputs, %zu through the binary, slowest %.3f s CPU\n", sa.inputs,
           sa.execs, sa.worst);
    check("sweep-file inputs failing a property", (double)ss.failed, 0);
    check("argument inputs failing a property", (double)sa.failed, 0);
    check("sweep-file inputs tried (at least 200)", ss.inputs >= 200 ? 0 : 1, 0);
    check("argument inputs tried (at least 200)", sa.inputs >= 200 ? 0 : 1, 0);
    if (!ss.failed && !sa.failed) {
        snprintf(p, sizeof p, "rm -rf '%s'", dir);
        if (system(p) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    } else {
        printf("kept %s for the failing inputs\n", dir);
    }
    for (size_t i = 0; i < sweeps.n; i++)
        free(sweeps.b[i].d);
    for (size_t i = 0; i < args.n; i++)
        free(args.b[i].d);
    free(sweeps.b);
    free(args.b);
    free((char *)exe);
    return check_summary("fuzz");
}
