/* test_train.c — whole jobs through the train API.
 *
 *   learning: every rule on every task lowers the loss (mean of the last
 *     rows vs the first rows of the curve) below a threshold set from
 *     measured runs with margin; BPTT on 2af reaches an accuracy well above
 *     chance (0.5);
 *   checkpoint resume: a job stopped at EVERY possible point (each flossing
 *     step, each iteration, and before it ran at all), saved, loaded into a
 *     fresh job and continued gives bit-identical curves, exponents and
 *     parameters to an uninterrupted run, for three phase layouts (one of
 *     them also at hidden 32, batch 16, every 7th point);
 *   refused images: a checkpoint of another config; the image truncated at
 *     every length and extended by a byte; every byte with one bit flipped;
 *     counters, sizes, rows and rng states crafted with a recomputed CRC-32.
 *     Each is refused and leaves the job exactly as train_alloc made it (its
 *     own image equals a fresh job's), and the job then run equals a clean run;
 *   provenance: an image claiming another BLAS core or SIMD level loads,
 *     with a note naming both, and continues bit-identically here.
 *   held-out evaluation (SPEC §7): train_evaluate equals a naive
 *     recomputation on the whole validation and test batches drawn in one
 *     go from their streams (so chunking changes nothing), the same for jobs
 *     of one seed that differ in rule or lr, and its trials differ from each
 *     other and from every training batch of a long run.
 *   diagnostics (SPEC §8): align_* at iteration 0 equal a naive cosine of two
 *     rule_gradient calls (eprop, BPTT) on the job's first batch; align_rec
 *     is 1 for eprop at W_rec = 0 (eprop == BPTT there); drift is 0 at
 *     iteration 0 and grows; checkpoints keep the rows (resume layouts).
 * The CRC-32 reference is an independent bitwise loop, itself checked
 * against the standard check value. Exits nonzero on any failure.
 */
#include "rnnsweep/blasenv.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "rnnsweep/train.h"

#include <math.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

static config job(int task, int rule, long iters)
{
    config c;
    char err[CONFIG_ERRLEN];
    config_default(&c);
    c.task = task;
    c.rule = rule;
    c.hidden = 32;
    c.batch = 16;
    c.iters = iters;
    c.lr = 1e-2;
    c.log_every = 1;
    c.seed = 5;
    if (config_resolve(&c, 0, err)) {
        printf("config: %s\n", err);
        exit(1);
    }
    return c;
}

/* Mean loss (or accuracy) of curve rows [from, to). */
static double mean_of(const train_curve_row *r, size_t from, size_t to, int acc)
{
    double s = 0;
    for (size_t i = from; i < to; i++)
        s += acc ? r[i].accuracy : r[i].loss;
    return s / (double)(to - from);
}

static void check_learning(void)
{
    /* Ratio final/initial loss required per task, set with margin from
     * measured ratios (romo ~0.3, 2af ~0.03, dms ~0.23 at 300 iterations). */
    const double need[3] = {0.5, 0.2, 0.5};
    for (int task = 0; task < 3; task++)
        for (int rule = 0; rule < 4; rule++) {
            const int long_run = task == TASK_2AF && rule == RULE_BPTT;
            config c = job(task, rule, long_run ? 600 : 300);
            char err[256], what[96];
            train_job *j = train_alloc(&c, err);
            int st = train_run(j, NULL);
            size_t n;
            const train_curve_row *r = train_curve(j, &n);
            const double l0 = r[0].loss, l1 = mean_of(r, n - 20, n, 0);
            snprintf(what, sizeof what, "%s %s: loss ratio last20/initial",
                     config_enum_name("task", task), config_enum_name("rule", rule));
            check(what, st == TRAIN_DONE ? l1 / l0 : NAN, need[task]);
            if (rule == RULE_READOUT) { /* only W_out and b_out moved */
                const rnn_params *p = train_params(j), *p0 = train_params_init(j);
                const size_t nin = p->size - (size_t)p->O * p->N - p->O;
                snprintf(what, sizeof what, "%s readout: W_in, W_rec, b exactly as initialised",
                         config_enum_name("task", task));
                check(what, memcmp(p->data, p0->data, nin * sizeof(double)) != 0, 0);
            }
            if (long_run) /* measured 0.87 after 600 iterations; chance 0.5 */
                check("2af bptt: 1 - decision accuracy (accuracy > 0.75)",
                      1.0 - mean_of(r, n - 20, n, 1), 0.25);
            train_free(j);
        }
}

/* ---- checkpoints ---- */

/* Stop after the flossing step k (stop_at = 1000 + k), or after iteration k. */
static long stop_at;
static int stop_hook(void *ctx, int phase, long it, long total, double loss)
{
    (void)ctx, (void)total, (void)loss;
    return (phase == PHASE_FLOSS ? 1000 + it : it) == stop_at;
}

/* Small jobs with every phase, so that each test can visit every byte. */
static config small(int layout)
{
    config c = job(TASK_ROMO, RULE_EPROP, 40);
    c.hidden = layout == 3 ? 32 : 6; /* layout 3: layout 0 at the packed kernel's sizes */
    c.batch = layout == 3 ? 16 : 3;
    c.lyap_k = 3;
    c.floss_k = 2;
    if (layout == 0 || layout == 3) { /* flossing before and during training, exponents every 9 */
        c.floss_iters = 10, c.floss_every = 7, c.lyap_every = 9, c.log_every = 1, c.diag_every = 6;
    } else if (layout == 1) { /* no flossing; exponents every 10 (10 | iters); diagnostics of bptt */
        c.floss_iters = 0, c.floss_every = 0, c.lyap_every = 10, c.log_every = 3, c.diag_every = 4;
        c.rule = RULE_BPTT;
    } else { /* flossing before only, no exponents during training */
        c.floss_iters = 3, c.floss_every = 0, c.lyap_every = 0, c.log_every = 40;
    }
    return c;
}

/* Image of job j (malloc'ed, *n bytes). */
static unsigned char *image(const train_job *j, size_t *n)
{
    *n = train_checkpoint_size(j);
    unsigned char *b = malloc(*n);
    if (!b || train_checkpoint_save(j, b, *n) != 0) {
        printf("cannot save a checkpoint\n");
        exit(1);
    }
    return b;
}

/* Bitwise equality of doubles (so -0 != 0 and NaN == NaN of the same bits). */
static int same_bits(double x, double y) { return memcmp(&x, &y, sizeof x) == 0; }

/* 1 if a and b ended in exactly the same state: curve, exponents, parameters
 * (rows compared field by field: their padding bytes are not state). */
static int same_result(const train_job *a, const train_job *b)
{
    size_t na, nb, la, lb;
    const train_curve_row *ra = train_curve(a, &na), *rb = train_curve(b, &nb);
    const train_lyap_row *ya = train_lyap(a, &la), *yb = train_lyap(b, &lb);
    size_t da, db;
    const train_diag_row *xa = train_diag(a, &da), *xb = train_diag(b, &db);
    const rnn_params *pa = train_params(a), *pb = train_params(b);
    int same = na == nb && la == lb && da == db && pa->size == pb->size &&
               memcmp(pa->data, pb->data, pa->size * sizeof(double)) == 0;
    for (size_t i = 0; same && i < na; i++)
        same = ra[i].iter == rb[i].iter && same_bits(ra[i].loss, rb[i].loss) &&
               same_bits(ra[i].accuracy, rb[i].accuracy);
    for (size_t i = 0; same && i < la; i++)
        same = ya[i].phase == yb[i].phase && ya[i].iter == yb[i].iter && ya[i].idx == yb[i].idx &&
               same_bits(ya[i].mean, yb[i].mean) && same_bits(ya[i].sd, yb[i].sd);
    for (size_t i = 0; same && i < da; i++)
        same = xa[i].iter == xb[i].iter && xa[i].name == xb[i].name && same_bits(xa[i].value, xb[i].value);
    return same;
}

/* A job of c stopped at `at` (-1 = not run at all); its image in *n bytes. */
static unsigned char *stopped_image(const config *c, long at, size_t *n, int *st)
{
    char err[256];
    train_job *b = train_alloc(c, err);
    stop_at = at;
    train_hooks h = {.progress = stop_hook};
    *st = at >= 0 ? train_run(b, &h) : TRAIN_STOPPED;
    unsigned char *buf = image(b, n);
    train_free(b);
    return buf;
}

/* Stop at every `every`-th point of the job (and its last flossing step),
 * save, load into a fresh job, finish: counts the points where the resumed
 * job is not bit-identical. */
static void check_resume_everywhere(int layout, int every)
{
    config c = small(layout);
    char err[256], what[96], note[256];
    train_job *a = train_alloc(&c, err);
    train_run(a, NULL);
    int bad = 0, points = 0, k = 0;
    for (long at = -1; at <= 1000 + c.floss_iters; at = at == c.iters - 1 ? 1001 : at + 1) {
        if (k++ % every != 0 && at != 1000 + c.floss_iters)
            continue;
        size_t n;
        int st;
        unsigned char *buf = stopped_image(&c, at, &n, &st);
        train_job *r = train_alloc(&c, err);
        const int rc = train_checkpoint_load(r, buf, n, note);
        const int st2 = train_run(r, NULL);
        const int ok = st == TRAIN_STOPPED && rc == 0 && note[0] == 0 && st2 == TRAIN_DONE &&
                       same_result(a, r);
        if (!ok)
            printf("     resume from stop point %ld: load %d (%s), run %d\n", at, rc, note, st2);
        bad += !ok;
        points++;
        train_free(r);
        free(buf);
    }
    snprintf(what, sizeof what, "layout %d, N = %ld: resume from %d stop points bit-identical",
             layout, c.hidden, points);
    check(what, bad, 0);
    train_free(a);
}

/* The standard CRC-32, one bit at a time: the reference for train.c's table. */
static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void seal(unsigned char *b, size_t n)
{
    const uint32_t crc = crc32_ref(b, n - 4);
    memcpy(b + n - 4, &crc, 4);
}

/* Offer `bad` (n bytes) to the fresh job j: 1 if it is refused and j is
 * still byte for byte a fresh job (its image equals `fresh`). */
static int refused_untouched(train_job *j, const unsigned char *bad, size_t n,
                             const unsigned char *fresh, size_t nf, char note[256])
{
    if (train_checkpoint_load(j, bad, n, note) != -1 || note[0] == 0)
        return 0;
    size_t nj;
    unsigned char *now = image(j, &nj);
    const int same = nj == nf && memcmp(now, fresh, nf) == 0;
    free(now);
    return same;
}

/* Images of a job stopped mid-training truncated at every length (flip = 0),
 * or with one bit flipped in each byte (flip = 1), all offered to one fresh
 * job, which is then run; and (flip = 0) the image extended by a byte. */
static void check_damaged(int flip)
{
    const config c = small(0);
    char err[256], note[256] = "";
    train_job *a = train_alloc(&c, err);
    train_run(a, NULL);
    size_t n, nf;
    int st;
    unsigned char *buf = stopped_image(&c, 23, &n, &st);
    train_job *j = train_alloc(&c, err);
    unsigned char *fresh = image(j, &nf);

    int bad = 0;
    if (!flip) {
        for (size_t len = 0; len < n; len++)
            bad += !refused_untouched(j, buf, len, fresh, nf, note);
        train_job *e = train_alloc(&c, err); /* a job of its own: this job is run below */
        unsigned char *longer = calloc(n + 1, 1);
        memcpy(longer, buf, n);
        bad += !refused_untouched(e, longer, n + 1, fresh, nf, note);
        free(longer);
        train_free(e);
    } else {
        for (size_t i = 0; i < n; i++) {
            buf[i] ^= (unsigned char)(1u << (i % 8));
            bad += !refused_untouched(j, buf, n, fresh, nf, note);
            buf[i] ^= (unsigned char)(1u << (i % 8));
        }
    }
    printf("     last refusal: %s\n", note);
    check(flip ? "one bit flipped in each byte: refused, job untouched"
               : "image truncated at each length / extended: refused, job untouched",
          bad, 0);
    const int st2 = train_run(j, NULL);
    check(flip ? "job offered every bit-flipped image then run: equals a clean run"
               : "job offered every truncated image then run: equals a clean run",
          !(st == TRAIN_STOPPED && st2 == TRAIN_DONE && same_result(a, j)), 0);
    free(buf);
    free(fresh);
    train_free(j);
    train_free(a);
}

/* One crafted change to a sealed image. */
typedef struct craft {
    const char *what;
    void (*edit)(unsigned char *b, size_t *n, train_ckpt_head *h);
} craft;

static void c_none(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, (void)h; }
static void c_iter_over(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->iter = 41; }
static void c_iter_neg(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->iter = -1; }
static void c_iter_inc(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->iter++; }
static void c_iter_huge(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->iter = INT64_MAX; }
static void c_floss_over(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->floss_done++; }
static void c_floss_neg(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->floss_done = -1; }
static void c_opt_t(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->opt_t++; }
static void c_fopt_t(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->fopt_t--; }
static void c_init(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->init_measured = 2; }
static void c_fmeas(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->floss_measured = 0; }
static void c_version(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->version = 1; }
static void c_hash(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->hash ^= 1; }
static void c_nparams(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->nparams++; }
static void c_rng(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->rng_task += 8, h->rng_floss -= 8; }
static void c_size(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, h->size--; }
static void c_core(unsigned char *b, size_t *n, train_ckpt_head *h) { (void)b, (void)n, memset(h->blas_core, 'x', sizeof h->blas_core); }

/* Offsets of the sections after the header. */
static size_t off_curve(const train_ckpt_head *h) { return sizeof *h + 5 * h->nparams * sizeof(double); }
static size_t off_lyap(const train_ckpt_head *h) { return off_curve(h) + h->ncurve * sizeof(train_curve_row); }
static size_t off_diag(const train_ckpt_head *h) { return off_lyap(h) + h->nlyap * sizeof(train_lyap_row); }
static size_t off_rng(const train_ckpt_head *h) { return off_diag(h) + h->ndiag * sizeof(train_diag_row); }

/* Drop the last diagnostic step's rows (7 for eprop) and say so: sizes agree, counts do not. */
static void c_ndiag(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    const size_t at = off_rng(h), rows = 7 * sizeof(train_diag_row);
    memmove(b + at - rows, b + at, *n - at);
    *n -= rows;
    h->ndiag -= 7;
    h->size = *n;
}

/* A diagnostic row with another name. */
static void c_diag_name(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    (void)n;
    train_diag_row r;
    memcpy(&r, b + off_diag(h), sizeof r);
    r.name = DIAG_DRIFT_W_OUT;
    memcpy(b + off_diag(h), &r, sizeof r);
}

/* Drop the last curve row and say so in the header: sizes agree, iter does not. */
static void c_ncurve(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    const size_t at = off_lyap(h), row = sizeof(train_curve_row);
    memmove(b + at - row, b + at, *n - at);
    *n -= row;
    h->ncurve--;
    h->size = *n;
}

/* Drop the last exponent block (lyap_k = 3 rows), likewise. */
static void c_nlyap(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    const size_t at = off_diag(h), rows = 3 * sizeof(train_lyap_row);
    memmove(b + at - rows, b + at, *n - at);
    *n -= rows;
    h->nlyap -= 3;
    h->size = *n;
}

static void c_curve_key(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    (void)n;
    train_curve_row r;
    memcpy(&r, b + off_curve(h) + 5 * sizeof r, sizeof r);
    r.iter = 4; /* a duplicate of row 4 */
    memcpy(b + off_curve(h) + 5 * sizeof r, &r, sizeof r);
}

static void c_lyap_key(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    (void)n;
    train_lyap_row r;
    memcpy(&r, b + off_lyap(h) + sizeof r, sizeof r);
    r.idx = 7;
    memcpy(b + off_lyap(h) + sizeof r, &r, sizeof r);
}

/* mt19937's position (after 624 words of 8 bytes) past the end of its state. */
static void c_mti(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    (void)n;
    const int mti = -5;
    memcpy(b + off_rng(h) + 624 * sizeof(unsigned long), &mti, sizeof mti);
}

static void c_mt_word(unsigned char *b, size_t *n, train_ckpt_head *h)
{
    (void)n;
    const unsigned long w = 0x100000000UL;
    memcpy(b + off_rng(h) + h->rng_task + 17 * sizeof w, &w, sizeof w);
}

/* Apply a craft to a copy of img (n bytes), reseal it; malloc'ed, *m bytes. */
static unsigned char *crafted(const unsigned char *img, size_t n, const craft *cr, size_t *m)
{
    unsigned char *b = malloc(n);
    memcpy(b, img, n);
    train_ckpt_head h;
    memcpy(&h, b, sizeof h);
    *m = n;
    cr->edit(b, m, &h);
    memcpy(b, &h, sizeof h);
    seal(b, *m);
    return b;
}

static void check_crafted(void)
{
    static const unsigned char std[] = "123456789";
    check("reference CRC-32 of \"123456789\" is 0xCBF43926",
          crc32_ref(std, 9) != 0xCBF43926u, 0);

    const config c = small(0);
    char err[256], note[256], what[400];
    train_job *a = train_alloc(&c, err);
    train_run(a, NULL);
    size_t n, nf, m;
    int st;
    unsigned char *img = stopped_image(&c, 23, &n, &st); /* iter 24: floss done, 2 train blocks */
    train_job *j = train_alloc(&c, err);
    unsigned char *fresh = image(j, &nf);

    /* Resealed but unchanged: accepted, so the refusals below are the counters'. */
    const craft none = {"none", c_none};
    unsigned char *b = crafted(img, n, &none, &m);
    check("resealed unchanged image (reference CRC) is accepted",
          memcmp(b, img, n) != 0 || train_checkpoint_load(j, b, m, note) != 0, 0);
    free(b);
    train_free(j);
    j = train_alloc(&c, err);

    static const craft bad[] = {
        {"iter = iters + 1", c_iter_over},     {"iter = -1", c_iter_neg},
        {"iter + 1 (rows for iter)", c_iter_inc}, {"iter = INT64_MAX", c_iter_huge},
        {"floss_done = floss_iters + 1", c_floss_over}, {"floss_done = -1", c_floss_neg},
        {"Adam step count + 1", c_opt_t},     {"flossing Adam step count - 1", c_fopt_t},
        {"init_measured = 2", c_init},        {"floss exponents missing", c_fmeas},
        {"format version 1", c_version},      {"config hash", c_hash},
        {"nparams + 1", c_nparams},           {"rng sizes shifted", c_rng},
        {"size - 1", c_size},                 {"BLAS core unterminated", c_core},
        {"a curve row fewer (sizes agree)", c_ncurve},
        {"an exponent block fewer (sizes agree)", c_nlyap},
        {"duplicate curve row key", c_curve_key}, {"exponent idx 7", c_lyap_key},
        {"one diagnostic step fewer", c_ndiag}, {"a diagnostic row's name", c_diag_name},
        {"mt19937 position -5", c_mti},       {"mt19937 word over 32 bits", c_mt_word},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        b = crafted(img, n, &bad[k], &m);
        const int ok = refused_untouched(j, b, m, fresh, nf, note);
        snprintf(what, sizeof what, "crafted, CRC resealed: %s: refused (%s)", bad[k].what, note);
        check(what, !ok, 0);
        free(b);
    }
    const int st2 = train_run(j, NULL);
    check("job offered every crafted image then run: equals a clean run",
          !(st == TRAIN_STOPPED && st2 == TRAIN_DONE && same_result(a, j)), 0);
    train_free(j);
    free(fresh);
    free(img);
    train_free(a);
}

/* An image written on "another node": loads, notes both, continues here. */
static void check_provenance(void)
{
    const config c = small(0);
    char err[256], note[256];
    train_job *a = train_alloc(&c, err);
    train_run(a, NULL);
    size_t n;
    int st;
    unsigned char *img = stopped_image(&c, 23, &n, &st);
    train_ckpt_head h;
    memcpy(&h, img, sizeof h);
    const int recorded = strcmp(h.blas_core, blasenv_core()) == 0 && h.simd[0] != 0;
    printf("     written with BLAS core %s / SIMD %s\n", h.blas_core, h.simd);
    check("image records this process's BLAS core and a SIMD level", !recorded, 0);

    unsigned char *other = malloc(n);
    for (int which = 0; which < 2; which++) {
        memcpy(other, img, n);
        memcpy(&h, other, sizeof h);
        if (which == 0)
            snprintf(h.blas_core, sizeof h.blas_core, "OtherCore");
        else
            snprintf(h.simd, sizeof h.simd, "%s", strcmp(h.simd, "sse9") ? "sse9" : "sse8");
        memcpy(other, &h, sizeof h);
        seal(other, n);
        train_job *j = train_alloc(&c, err);
        const int rc = train_checkpoint_load(j, other, n, note);
        printf("     note: %s\n", note);
        const int noted = strstr(note, which ? "SIMD" : "BLAS core") &&
                          strstr(note, which ? h.simd : "OtherCore") &&
                          strstr(note, blasenv_core()) && strstr(note, "may differ");
        const int st2 = train_run(j, NULL);
        check(which ? "image from another SIMD level: loads, note names both, same result"
                    : "image from another BLAS core: loads, note names both, same result",
              !(rc == 0 && noted && st2 == TRAIN_DONE && same_result(a, j)), 0);
        train_free(j);
    }
    free(other);
    free(img);
    train_free(a);
}

/* A checkpoint is tied to its config. */
static void check_other_config(void)
{
    config c = small(0);
    size_t n;
    int st;
    char err[256], note[256];
    unsigned char *buf = stopped_image(&c, 23, &n, &st);
    config other = c;
    other.lr *= 2;
    train_job *d = train_alloc(&other, err);
    check("checkpoint of another config (lr x 2) is refused",
          train_checkpoint_load(d, buf, n, note) != -1, 0);
    train_free(d);
    free(buf);
}

/* Loss and accuracy of p on the first n trials of stream `stream`, drawn as
 * one batch (the naive reference of the chunked train_evaluate). */
static void naive_eval(const config *c, const rnn_params *p, int stream, long n, double *loss,
                       double *acc)
{
    int T, I, O;
    task_dims(c->task, &T, &I, &O);
    task_batch *tb = task_batch_alloc(c->task, (int)n);
    rnn_cache cache;
    rnn_cache_alloc(&cache, T, (int)n, (int)c->hidden, O);
    gsl_rng *r = train_stream_rng(c->seed, stream);
    task_batch_fill(tb, r);
    rnn_forward(p, c->activation, c->alpha, tb->x, &cache);
    *loss = task_loss(tb, cache.y, NULL);
    *acc = task_accuracy(tb, cache.y);
    gsl_rng_free(r);
    rnn_cache_free(&cache);
    task_batch_free(tb);
}

/* 1 if some trial of a (T,Ba,I) equals some trial of b (T,Bb,I). */
static int share_trial(const task_batch *a, const task_batch *b)
{
    for (int i = 0; i < a->B; i++)
        for (int k = 0; k < b->B; k++) {
            int same = 1;
            for (int t = 0; t < a->T && same; t++)
                for (int u = 0; u < a->I && same; u++)
                    same = a->x[((size_t)t * a->B + i) * a->I + u] == b->x[((size_t)t * b->B + k) * b->I + u];
            if (same)
                return 1;
        }
    return 0;
}

static void check_heldout(void)
{
    for (int task = TASK_ROMO; task <= TASK_DMS; task++) {
        config c = job(task, RULE_BPTT, 30);
        c.val_batch = 96;
        c.test_batch = 160;
        c.lyap_batch = 32;
        char err[256];
        train_job *j = train_alloc(&c, err);
        train_run(j, NULL);
        train_eval ev;
        train_evaluate(j, &ev);
        double vl, va, tl, ta;
        naive_eval(&c, train_params(j), STREAM_EVAL, c.val_batch, &vl, &va);
        naive_eval(&c, train_params(j), STREAM_TEST, c.test_batch, &tl, &ta);
        const double d = fmax(fmax(fabs(ev.val_loss - vl) / vl, fabs(ev.test_loss - tl) / tl),
                              fmax(fabs(ev.val_accuracy - va), fabs(ev.test_accuracy - ta)));
        char what[128];
        snprintf(what, sizeof what, "task %d: train_evaluate in chunks of 32 = one batch (96 val, 160 test)", task);
        check(what, d, 1e-12);

        /* Same seed, other rule and lr: the same held-out trials (at init the
         * parameters are equal, so equal metrics prove equal trials). */
        config c2 = c;
        c2.rule = RULE_EPROP;
        c2.lr = 3e-4;
        train_job *a = train_alloc(&c, err), *b = train_alloc(&c2, err);
        train_eval ea, eb;
        train_evaluate(a, &ea);
        train_evaluate(b, &eb);
        snprintf(what, sizeof what, "task %d: same seed, other rule and lr: identical held-out metrics", task);
        check(what, memcmp(&ea, &eb, sizeof ea) != 0, 0);

        /* Validation, test and 300 training batches share no trial. */
        task_batch *val = task_batch_alloc(task, (int)c.val_batch), *test = task_batch_alloc(task, (int)c.test_batch);
        gsl_rng *rv = train_stream_rng(c.seed, STREAM_EVAL), *rt = train_stream_rng(c.seed, STREAM_TEST);
        task_batch_fill(val, rv);
        task_batch_fill(test, rt);
        int shared = share_trial(val, test);
        for (int it = 0; it < 300 && !shared; it++) {
            const task_batch *tr = train_next_batch(a);
            shared = share_trial(tr, val) || share_trial(tr, test);
        }
        snprintf(what, sizeof what, "task %d: validation, test, 300 training batches: no trial shared", task);
        check(what, shared, 0);
        gsl_rng_free(rv), gsl_rng_free(rt);
        task_batch_free(val), task_batch_free(test);
        train_free(a), train_free(b), train_free(j);
    }
}

/* Naive cosine of n entries. */
static double naive_cos(const double *a, const double *b, size_t n)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++)
        ab += a[i] * b[i], aa += a[i] * a[i], bb += b[i] * b[i];
    return ab / sqrt(aa) / sqrt(bb);
}

static void check_diagnostics(void)
{
    for (int rule = RULE_EPROP; rule <= RULE_RFLO; rule++) {
        config c = job(TASK_ROMO, rule, 50);
        c.diag_every = 10;
        char err[256], what[128];
        train_job *j = train_alloc(&c, err), *k = train_alloc(&c, err);
        train_run(j, NULL);
        size_t n;
        const train_diag_row *d = train_diag(j, &n);
        /* the same first step, recomputed outside the trainer */
        const task_batch *tb = train_next_batch(k);
        const rnn_params *p = train_params(k);
        int T, I, O;
        task_dims(c.task, &T, &I, &O);
        rnn_params g1, g2;
        rnn_params_alloc(&g1, p->N, p->I, p->O);
        rnn_params_alloc(&g2, p->N, p->I, p->O);
        rnn_cache cache;
        rnn_cache_alloc(&cache, T, (int)c.batch, p->N, O);
        rule_work *w = rule_work_alloc(T, (int)c.batch, p->N, I, O);
        rule_gradient(rule, p, train_feedback(k), c.activation, c.alpha, tb, &cache, &g1, w);
        rule_gradient(RULE_BPTT, p, NULL, c.activation, c.alpha, tb, &cache, &g2, w);
        const size_t nr = (size_t)p->N * p->N, ni = (size_t)p->N * p->I, nb = (size_t)p->N;
        double *cat1 = malloc((nr + ni + nb) * sizeof(double)), *cat2 = malloc((nr + ni + nb) * sizeof(double));
        memcpy(cat1, g1.W_rec, nr * sizeof(double)), memcpy(cat1 + nr, g1.W_in, ni * sizeof(double));
        memcpy(cat1 + nr + ni, g1.b, nb * sizeof(double));
        memcpy(cat2, g2.W_rec, nr * sizeof(double)), memcpy(cat2 + nr, g2.W_in, ni * sizeof(double));
        memcpy(cat2 + nr + ni, g2.b, nb * sizeof(double));
        const double ref[4] = {naive_cos(g1.W_rec, g2.W_rec, nr), naive_cos(g1.W_in, g2.W_in, ni),
                               naive_cos(g1.b, g2.b, nb), naive_cos(cat1, cat2, nr + ni + nb)};
        double worst = 0;
        for (int q = 0; q < 4; q++)
            worst = fmax(worst, d[q].iter == 0 && d[q].name == q ? fabs(d[q].value - ref[q]) : INFINITY);
        snprintf(what, sizeof what, "%s: align_W_rec/W_in/b/rec at iter 0 = naive cosine of two rule_gradient calls",
                 config_enum_name("rule", rule));
        check(what, worst, 1e-12);
        printf("     (%s at iter 0: align_rec %.4f)\n", config_enum_name("rule", rule), d[3].value);
        /* drift: 0 at iteration 0, growing over the run; 7 rows per step, steps 0,10,...,50 */
        double d0 = d[4].value + d[5].value + d[6].value, dl = d[n - 3].value;
        snprintf(what, sizeof what, "%s: 6 steps x 7 rows; drift 0 at iter 0, drift_W_rec grows (%.3g at 50)",
                 config_enum_name("rule", rule), dl);
        check(what, n == 42 && d[n - 1].iter == 50 && d0 == 0 && dl > d[11].value && d[11].value > 0 ? 0 : 1, 0);
        free(cat1), free(cat2);
        rule_work_free(w);
        rnn_cache_free(&cache);
        rnn_params_free(&g1), rnn_params_free(&g2);
        train_free(j), train_free(k);
    }
    /* eprop == BPTT at W_rec = 0: alignment 1 */
    config c = job(TASK_ROMO, RULE_EPROP, 0);
    c.gain = 0;
    c.diag_every = 1;
    char err[256];
    train_job *j = train_alloc(&c, err);
    train_run(j, NULL);
    size_t n;
    const train_diag_row *d = train_diag(j, &n);
    check("eprop at W_rec = 0: align_W_in, align_b, align_rec = 1",
          fmax(fabs(d[1].value - 1), fmax(fabs(d[2].value - 1), fabs(d[3].value - 1))), 1e-12);
    train_free(j);
    /* bptt: drift rows only */
    c = job(TASK_2AF, RULE_BPTT, 20);
    c.diag_every = 20;
    j = train_alloc(&c, err);
    train_run(j, NULL);
    d = train_diag(j, &n);
    check("bptt: drift rows only (3 per step at 0 and 20)",
          n == 6 && d[0].name == DIAG_DRIFT_W_REC && d[5].iter == 20 ? 0 : 1, 0);
    train_free(j);
}

int main(int argc, char **argv)
{
    (void)argc;
    blasenv_ensure(argv);
    for (int layout = 0; layout < 3; layout++)
        check_resume_everywhere(layout, 1);
    check_resume_everywhere(3, 7);
    check_other_config();
    check_damaged(0);
    check_damaged(1);
    check_crafted();
    check_provenance();
    check_learning();
    check_heldout();
    check_diagnostics();
    return check_summary("train");
}
