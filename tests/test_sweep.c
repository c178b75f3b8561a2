/* test_sweep.c — checks of sweep-file parsing (src/sweep.c).
 *
 * Sweep files are written into a fresh temporary directory.  Good files are
 * checked for their grid size (lists, ranges, sections with top-level keys,
 * duplicates merged), job order and that values reach the configs (against a
 * naive nested loop); bad files for the exact "FILE:LINE:" prefix and the key
 * named in the message.  The limits are checked at their edges: lines of
 * 199/200 characters (LF, CRLF, two-byte characters), section names of 49/50
 * characters (and longer UTF-8 names that inih would cut), values of 127/128
 * bytes; -0 and 0 are one job; a FIFO or device is refused without blocking.
 * Each check prints one line; exit 1 if any fails.
 */
#include "rnnsweep/sweep.h"
#include "rnnsweep/config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"

static char dir[256];

/* Write `len` bytes of text (len < 0: strlen) to dir/name; returns the path. */
static const char *write_file(const char *name, const char *text, long len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
    fclose(f);
    return path;
}

/* Load a good file; check its job count. */
static sweep *load_ok(const char *name, const char *text, size_t njobs)
{
    char err[SWEEP_ERRLEN] = "", what[128], detail[SWEEP_ERRLEN + 64];
    const char *path = write_file(name, text, -1);
    sweep *s = sweep_load(path, err);
    snprintf(what, sizeof what, "%s: %zu jobs", name, njobs);
    if (s)
        snprintf(detail, sizeof detail, "got %zu", sweep_count(s));
    else
        snprintf(detail, sizeof detail, "error: %s", err);
    check_true(s && sweep_count(s) == njobs, what, "%s", detail);
    return s;
}

/* A bad file must fail with the message starting "PATH:LINE: " (LINE 0: "PATH: ")
 * and containing `needle`. */
static void load_bad(const char *name, const char *text, long len, int line, const char *needle)
{
    char err[SWEEP_ERRLEN] = "", prefix[600], what[128];
    const char *path = write_file(name, text, len);
    sweep *s = sweep_load(path, err);
    if (line)
        snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", path);
    int ok = !s && strncmp(err, prefix, strlen(prefix)) == 0 && strstr(err, needle);
    snprintf(what, sizeof what, "%s rejected at line %d, '%s'", name, line, needle);
    check_true(ok, what, "%s", s ? "(accepted!)" : err);
    sweep_free(s);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* every line out, even if an alarm ends the test */
    snprintf(dir, sizeof dir, "%s/test_sweep.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }

    /* Lists and ranges: 3 gains x 2 rules x seeds 0..4 = 30, last key fastest. */
    sweep *s = load_ok("grid.ini",
                       "# a comment\n"
                       "; another\n"
                       "gain = 0.5, 1, 1.5   # inline comment\n"
                       "rule = bptt, rflo\n"
                       "  seed = 0..4\n"
                       "hidden = 16\n"
                       "lyap-k = 2\n",
                       30);
    if (s) {
        const double gains[] = {0.5, 1, 1.5};
        const int rules[] = {RULE_BPTT, RULE_RFLO};
        size_t i = 0, bad = 0;
        for (int g = 0; g < 3; g++)
            for (int r = 0; r < 2; r++)
                for (long sd = 0; sd <= 4; sd++, i++) {
                    const config *c = sweep_job(s, i);
                    if (!c || c->gain != gains[g] || c->rule != rules[r] || c->seed != sd ||
                        c->hidden != 16 || c->lyap_k != 2 || c->alpha != 0.5)
                        bad++;
                }
        char d[64];
        snprintf(d, sizeof d, "%zu of 30 differ from the nested loop", bad);
        check_true(bad == 0, "grid.ini: values and order (last key fastest)", "%s", d);
        check_true(sweep_job(s, 30) == NULL, "sweep_job out of range is NULL", NULL);
        /* Text and hash as read. */
        const char *t = sweep_text(s);
        uint64_t h = 1469598103934665603ULL;
        for (const char *q = t; *q; q++)
            h = (h ^ (unsigned char)*q) * 1099511628211ULL;
        check_true(strncmp(t, "# a comment\n", 12) == 0 && h == sweep_hash(s),
                   "grid.ini: text kept, hash is FNV-1a 64 of it", NULL);
        sweep_free(s);
    }

    /* Sections: top level applies to both, a section may override it;
     * fig1 = 2 gains x 2 seeds, fig2 = 3 lrs x 2 seeds (rule overridden),
     * the empty section [base] is the top level alone (2 seeds). */
    s = load_ok("sections.ini",
                "task = 2af\n"
                "seed = 0, 1\n"
                "[fig1]\n"
                "gain = 0.5, 2\n"
                "[fig2]\n"
                "rule = eprop\n"
                "lr = 1e-3, 1e-2, 1e-1\n"
                "[base]\n",
                4 + 6 + 2);
    if (s) {
        const config *c0 = sweep_job(s, 0), *c4 = sweep_job(s, 4), *c9 = sweep_job(s, 9);
        const config *c10 = sweep_job(s, 10);
        int ok = c0->task == TASK_2AF && c0->gain == 0.5 && c0->seed == 0 && c4->rule == RULE_EPROP &&
                 c4->lr == 1e-3 && c4->seed == 0 && c9->lr == 1e-1 && c9->seed == 1 &&
                 c10->gain == 1 && c10->rule == RULE_BPTT && c10->task == TASK_2AF;
        check_true(ok, "sections.ini: section order, overrides and top-level keys", NULL);
        sweep_free(s);
    }

    /* Duplicates merged: [a] and [b] overlap in gain 1; a repeated list item. */
    s = load_ok("dups.ini",
                "seed = 3\n"
                "[a]\n"
                "gain = 0.5, 1, 1\n"
                "[b]\n"
                "gain = 1, 2\n",
                3);
    if (s) {
        check_true(sweep_job(s, 0)->gain == 0.5 && sweep_job(s, 1)->gain == 1 &&
                       sweep_job(s, 2)->gain == 2,
                   "dups.ini: first occurrences kept in order", NULL);
        sweep_free(s);
    }
    /* A range inside a list, CRLF line ends, '-' for '_', `key: value`. */
    s = load_ok("mixed.ini", "seed = 0..2, 10, 20..21\r\nfloss-iters: 0, 100\r\n", 12);
    if (s) {
        check_true(sweep_job(s, 11)->seed == 21 && sweep_job(s, 11)->floss_iters == 100 &&
                       sweep_job(s, 0)->floss_iters == 0,
                   "mixed.ini: ranges in lists, CRLF, ':'", NULL);
        sweep_free(s);
    }
    /* One value only: one job; and default-valued duplicates merge. */
    s = load_ok("one.ini", "gain = 1\nlr = 0.001\n", 1);
    sweep_free(s);

    /* Errors: exact FILE:LINE and the key. */
    load_bad("malformed.ini", "gain = 1\nthis line has no equals sign\n", -1, 2,
             "malformed line (expected key = value)");
    load_bad("section.ini", "gain = 1\n\n[fig1\nlr = 1\n", -1, 3, "malformed section header");
    load_bad("unknown.ini", "gain = 1\nfoo = 3\n", -1, 2, "unknown key 'foo'");
    load_bad("task.ini", "task = romo, mnist\n", -1, 1, "key 'task': unknown value 'mnist'");
    load_bad("rule.ini", "\n\nrule = sgd\n", -1, 3, "key 'rule': unknown value 'sgd'");
    load_bad("nan.ini", "gain = 1\n[x]\ngain = nan\n", -1, 3, "key 'gain': 'nan' is not finite");
    load_bad("inf.ini", "lr = inf\n", -1, 1, "key 'lr': 'inf' is not finite");
    load_bad("notnum.ini", "gain = abc\n", -1, 1, "key 'gain': 'abc' is not a number");
    load_bad("negative.ini", "seed = 1\nhidden = -5\n", -1, 2, "key 'hidden': -5 is out of range");
    load_bad("reversed.ini", "iters = 9..3\n", -1, 1, "key 'iters': reversed range 9..3");
    load_bad("realrange.ini", "gain = 1..3\n", -1, 1, "key 'gain': range '1..3' needs an integer key");
    load_bad("emptyitem.ini", "gain = 1,,2\n", -1, 1, "key 'gain': empty item in list '1,,2'");
    load_bad("trailing.ini", "seed = 1\ngain = 1, 2,\n", -1, 2, "key 'gain': empty item");
    load_bad("emptyval.ini", "gain =   # nothing\n", -1, 1, "key 'gain': empty value");
    load_bad("repeat.ini", "gain = 1\nlr = 1\ngain = 2\n", -1, 3, "key 'gain' repeated (first set on line 1)");
    load_bad("repeat2.ini", "[a]\nlr = 1\n[b]\nlr = 2\n[a]\nlr=3\n", -1, 6,
             "key 'lr' repeated (first set on line 2)");
    load_bad("emptysec.ini", "gain = 1\n[]\n", -1, 2, "empty section name");
    /* An indented line without '=' continues the list above it. */
    sweep_free(load_ok("indent.ini", "gain = 1\n   2\n", 2));
    load_bad("binary.ini", "gain = 1\n\0\x01\x02\xff", 13, 0, "binary file, not a sweep file");
    load_bad("latin1.ini", "# caf\xe9\ngain = 1\n", -1, 0, "binary file");
    {
        /* Line limit: 199 characters without the line end (LF or CRLF), counted
         * in characters, not bytes. */
        char longl[400];
        memset(longl, ' ', sizeof longl);
        memcpy(longl, "gain = 1\n# ", 11);
        longl[sizeof longl - 2] = '\n';
        longl[sizeof longl - 1] = 0;
        load_bad("long.ini", longl, -1, 2,
                 "line of 389 characters is longer than the 199 allowed (not counting the line end)");
        char line[1200];
        for (int crlf = 0; crlf < 2; crlf++)
            for (int len = 197; len <= 200; len++) {
                char name[32];
                memset(line, 'x', (size_t)len);
                line[0] = '#';
                snprintf(line + len, sizeof line - len, "%sgain = 1%s", crlf ? "\r\n" : "\n",
                         crlf ? "\r\n" : "\n");
                snprintf(name, sizeof name, "line%d%s.ini", len, crlf ? "crlf" : "");
                if (len <= 199)
                    sweep_free(load_ok(name, line, 1));
                else
                    load_bad(name, line, -1, 1, "line of 200 characters is longer than the 199 allowed");
            }
        /* 199 characters of which 150 are two-byte: 349 bytes, still one line. */
        char first[400];
        size_t o = (size_t)snprintf(first, sizeof first, "seed = 1, 2 ; ");
        for (int i = 0; i < 150; i++)
            o += (size_t)snprintf(first + o, sizeof first - o, "\xc3\xa9");
        while (o < 349)
            first[o++] = 'x';
        first[o] = 0;
        snprintf(line, sizeof line, "%s\r\n#%s\r\n", first, first + 1);
        sweep_free(load_ok("utf8long.ini", line, 2));
        snprintf(line, sizeof line, "%sy\n", first);
        load_bad("utf8long200.ini", line, -1, 1, "line of 200 characters is longer than the 199 allowed");
        /* A key = value line of 199 characters reaches inih whole. */
        o = (size_t)snprintf(line, sizeof line, "seed = 7");
        while (o < 199)
            line[o++] = ' ';
        snprintf(line + o, sizeof line - o, "\r\ngain = 2\n");
        s = load_ok("kv199.ini", line, 1);
        if (s)
            check_true(sweep_job(s, 0)->seed == 7 && sweep_job(s, 0)->gain == 2,
                       "kv199.ini: seed 7, gain 2", NULL);
        sweep_free(s);
        load_bad("nonascii.ini", "gain = 1\ntask = r\xc3\xb4mo # caf\xc3\xa9\n", -1, 2,
                 "non-ASCII character in a key or value");
        sweep_free(load_ok("nonascii-comment.ini", "gain = 1 # caf\xc3\xa9\nlr = 1 ; \xc3\xa9t\xc3\xa9\n", 1));
    }
    {
        /* Section names: at most 49 characters; inih cuts them at 49 bytes, which
         * must not make a phantom section (a second grid of the top-level keys). */
        char text[600], name[256];
        memset(name, 'a', 50);
        name[50] = 0;
        snprintf(text, sizeof text, "seed = 1\n[%s]\ngain = 2, 3\n", name);
        load_bad("section50.ini", text, -1, 2, "section name of 50 characters is longer than the 49 allowed");
        name[49] = 0;
        snprintf(text, sizeof text, "seed = 1\n[%s]\ngain = 2, 3\n", name);
        sweep_free(load_ok("section49.ini", text, 2));
        /* 40 two-byte characters: 80 bytes, a legal name that inih cuts. */
        size_t o = 0;
        for (int i = 0; i < 40; i++)
            o += (size_t)snprintf(name + o, sizeof name - o, "\xce\xb1");
        snprintf(text, sizeof text, "seed = 1\n[%s]\ngain = 2, 3\n[b]\ngain = 4\n", name);
        s = load_ok("section-utf8.ini", text, 3);
        if (s)
            check_true(sweep_job(s, 0)->gain == 2 && sweep_job(s, 2)->gain == 4,
                       "section-utf8.ini: two sections, no phantom", NULL);
        sweep_free(s);
        /* inih drops what follows ']': only a comment may stand there. */
        load_bad("section-tail.ini", "seed = 1\n[a] gain = 2, 3\n", -1, 2,
                 "text after the section header");
        sweep_free(load_ok("section-comment.ini", "seed = 1\n[a] # c\ngain = 2\n[b]\t; c\n", 2));
        /* Two 60-character names that agree in their first 49 stay apart; refused anyway. */
        memset(name, 'b', 60);
        name[60] = 0;
        snprintf(text, sizeof text, "[ok]\nseed = 1\n[%s]\ngain = 2\n", name);
        load_bad("section60.ini", text, -1, 3, "section name of 60 characters");
    }
    {
        /* Values: at most 127 bytes; longer ones were cut to 127 (seed 0 here). */
        char text[400], zeros[200];
        memset(zeros, '0', 129);
        zeros[129] = 0;
        snprintf(text, sizeof text, "gain = 1\nseed = %s5\n", zeros);
        load_bad("value130.ini", text, -1, 2, "key 'seed': value of 130 bytes is longer than the 127 allowed");
        snprintf(text, sizeof text, "gain = 1\nseed = 1, %s5 # c\n", zeros + 1);
        load_bad("value129list.ini", text, -1, 2, "key 'seed': value of 129 bytes");
        snprintf(text, sizeof text, "gain = 1\nseed = 1, %s5 # c\n", zeros + 3);
        s = load_ok("value127.ini", text, 2);
        if (s)
            check_true(sweep_job(s, 1)->seed == 5, "value127.ini: a 127-byte value is read whole",
                       NULL);
        sweep_free(s);
        snprintf(text, sizeof text, "seed = %s1..3\n", zeros);
        load_bad("range130.ini", text, -1, 1, "value of 130 bytes");
    }
    {
        /* -0 is 0: one job, and its gain prints as 0 (the hash of "gain=0"). */
        s = load_ok("negzero.ini", "gain = 0, -0, -0.0, 0e5, -0e-3\n", 1);
        if (s) {
            char v[64];
            config_get(sweep_job(s, 0), config_key_find("gain"), v, sizeof v);
            config c;
            config_default(&c);
            c.gain = 0;
            char e[CONFIG_ERRLEN];
            config_resolve(&c, 0, e);
            check_true(strcmp(v, "0") == 0 && config_hash(sweep_job(s, 0)) == config_hash(&c),
                       "negzero.ini: gain -0 is gain 0, same hash", "%s", v);
        }
        sweep_free(s);
        sweep_free(load_ok("negzero-sections.ini", "[a]\ngain = -0\n[b]\ngain = 0\n", 1));
    }
    load_bad("empty.ini", "", 0, 0, "no jobs");
    load_bad("comments.ini", "# only a comment\n\n", -1, 0, "no jobs");
    load_bad("lyapk.ini", "task = romo\nhidden = 4\nlyap_k = 2, 8\n", -1, 3,
             "job (task=romo, hidden=4, lyap_k=8): lyap_k: 8 exceeds hidden (4)");
    load_bad("lyapk2.ini", "hidden = 2\n", -1, 1, "lyap_k: 4 exceeds hidden (2)");
    load_bad("huge.ini", "seed = 0..999\nhidden = 1..2000\n", -1, 0, "more than 1000000 jobs");
    {
        char err[SWEEP_ERRLEN] = "", path[600];
        snprintf(path, sizeof path, "%s/missing.ini", dir);
        sweep *m = sweep_load(path, err);
        char prefix[620];
        snprintf(prefix, sizeof prefix, "%s: cannot open", path);
        check_true(!m && strncmp(err, prefix, strlen(prefix)) == 0, "missing file rejected", "%s",
                   err);
        m = sweep_load(dir, err);
        check_true(!m && strstr(err, "a directory, not a regular file"), "directory rejected", "%s",
                   err);
        m = sweep_load("/dev/null", err);
        check_true(!m && strstr(err, "/dev/null: a character device, not a regular file"),
                   "/dev/null rejected", "%s", err);
        /* A FIFO with no writer: the old fopen() blocked here for ever.  An
         * alarm turns a hang into a failure. */
        snprintf(path, sizeof path, "%s/fifo.ini", dir);
        if (mkfifo(path, 0600) != 0) {
            perror("mkfifo");
            return 1;
        }
        alarm(30);
        m = sweep_load(path, err);
        alarm(0);
        check_true(!m && strstr(err, "fifo.ini: a FIFO, not a regular file"),
                   "FIFO rejected at once", "%s", err);
        snprintf(path, sizeof path, "%s/fifo-link.ini", dir);
        snprintf(prefix, sizeof prefix, "%s/fifo.ini", dir);
        if (symlink(prefix, path) != 0) {
            perror("symlink");
            return 1;
        }
        alarm(30);
        m = sweep_load(path, err);
        alarm(0);
        check_true(!m && strstr(err, "a FIFO, not a regular file"),
                   "symlink to a FIFO rejected at once", "%s", err);
    }

    /* linspace / logspace: end values exact, inner values to 1e-15 relative
     * against the closed forms computed here in long double. */
    {
        sweep *ls = load_ok("spaced.ini", "gain = linspace(0.25, 2.5, 10)\nlr = logspace(1e-4, 1e-2, 5)\n", 50);
        double worst = 0;
        int ends = 1;
        for (size_t i = 0; ls && i < sweep_count(ls); i++) {
            const config *c = sweep_job(ls, i);
            const long gi = (long)(i / 5), li = (long)(i % 5);
            const long double g = 0.25L + (2.5L - 0.25L) * gi / 9.0L;
            const long double l = expl(logl(1e-4L) + (logl(1e-2L) - logl(1e-4L)) * li / 4.0L);
            worst = fmax(worst, fmax(fabs((double)((c->gain - g) / g)), fabs((double)((c->lr - l) / l))));
            if ((gi == 0 && c->gain != 0.25) || (gi == 9 && c->gain != 2.5) ||
                (li == 0 && c->lr != 1e-4) || (li == 4 && c->lr != 1e-2))
                ends = 0;
        }
        char d[64];
        snprintf(d, sizeof d, "worst relative error %.2g", worst);
        check_true(ls && worst <= 1e-15 && ends,
                   "linspace/logspace: ends exact, inner values to 1e-15", "%s", d);
        sweep_free(ls);
        /* A 40-value list continued over indented lines: 40 jobs. */
        char text[2048] = "task = romo\nseed = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9,\n";
        for (int row = 1; row < 4; row++) {
            char line[128] = "    ";
            for (int k = 0; k < 10; k++)
                snprintf(line + strlen(line), sizeof line - strlen(line), "%d%s", row * 10 + k,
                         k < 9 || row < 3 ? ", " : "");
            strcat(text, line);
            strcat(text, "   # continued\n");
        }
        strcat(text, "gain = 1\n");
        sweep *cl = load_ok("continued.ini", text, 40);
        int seq = cl != NULL;
        for (size_t i = 0; cl && i < sweep_count(cl); i++)
            seq &= sweep_job(cl, i)->seed == (long)i;
        check_true(seq, "continued list: seeds 0..39 in order", NULL);
        sweep_free(cl);
        sweep_free(load_ok("spaced_int.ini", "hidden = logspace(32, 256, 4)\nseed = linspace(0, 10, 3)\n", 12));
        load_bad("spaced_bad.ini", "gain = linspace(1, 2)\n", -1, 1, "is not linspace(a, b, n)");
        load_bad("spaced_neg.ini", "lr = logspace(-1, 1, 3)\n", -1, 1, "needs a > 0 and b > 0");
        load_bad("spaced_int.ini", "seed = logspace(1, 10, 3)\n", -1, 1, "not an integer");
        load_bad("spaced_enum.ini", "task = linspace(1, 2, 3)\n", -1, 1, "needs a numeric key");
        sweep_free(load_ok("cont_key.ini", "gain = 1, 2\n  lr = 2\n", 2)); /* an indented key line stays one */
        load_bad("cont_end.ini", "gain = 1,\nlr = 2\n", -1, 1, "empty item");
    }

    /* Clean up the temporary directory. */
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_summary("sweep");
}
