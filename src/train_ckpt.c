/* train_ckpt.c — a job's checkpoint: the byte image of its whole state.
 *
 * Layout and validity rules are in train.h.  The reader checks the whole
 * image in place (it is const and may be unaligned: every field is read with
 * memcpy) and copies into the job only when every check has passed, so a
 * refused image leaves the job as train_alloc made it.  The counters are
 * checked against ckpt_expected, which restates train_run's loop: change
 * both together.
 */
#include "train_int.h"
#include "rnnsweep/blasenv.h"
#include "kernel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(train_ckpt_head) == 168, "train_ckpt_head has no padding");

/* gsl's mt19937 state (gsl/rng/mt.c), for checking a stored one: words of
 * 32 bits and a position 0..624, which gsl uses as an index unchecked. */
typedef struct mt_state { unsigned long mt[624]; int mti; } mt_state;

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of n bytes. */
static uint32_t crc32_ieee(const unsigned char *p, size_t n)
{
    uint32_t table[256];
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[b] = c;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return crc ^ 0xFFFFFFFFu;
}

/* Bytes of an image with these counts (no overflow: counts already bounded). */
static size_t ckpt_bytes(size_t nparams, size_t ncurve, size_t nlyap, size_t ndiag, size_t rt,
                         size_t rf)
{
    return sizeof(train_ckpt_head) + 5 * nparams * sizeof(double) +
           ncurve * sizeof(train_curve_row) + nlyap * sizeof(train_lyap_row) +
           ndiag * sizeof(train_diag_row) + rt + rf + sizeof(uint32_t);
}

size_t train_checkpoint_size(const train_job *j)
{
    return ckpt_bytes(j->p.size, j->ncurve, j->nlyap, j->ndiag, gsl_rng_size(j->r_task),
                      gsl_rng_size(j->r_floss));
}

/* Copy n bytes to w; returns w + n. */
static unsigned char *put(unsigned char *w, const void *src, size_t n)
{
    if (n)
        memcpy(w, src, n);
    return w + n;
}

int train_checkpoint_save(const train_job *j, void *buf, size_t n)
{
    const size_t need = train_checkpoint_size(j);
    if (n < need)
        return -1;
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    train_ckpt_head hd;
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, TRAIN_CKPT_MAGIC, sizeof hd.magic);
    hd.version = TRAIN_CKPT_VERSION;
    hd.head_size = sizeof hd;
    hd.hash = j->hash;
    hd.size = need;
    hd.nparams = j->p.size;
    hd.ncurve = j->ncurve;
    hd.nlyap = j->nlyap;
    hd.ndiag = j->ndiag;
    hd.rng_task = gsl_rng_size(j->r_task);
    hd.rng_floss = gsl_rng_size(j->r_floss);
    hd.floss_done = j->floss_done;
    hd.iter = j->iter;
    hd.opt_t = *t;
    hd.fopt_t = *ft;
    hd.init_measured = j->init_measured;
    hd.floss_measured = j->floss_measured;
    snprintf(hd.blas_core, sizeof hd.blas_core, "%s", blasenv_core());
    snprintf(hd.simd, sizeof hd.simd, "%s", kernel_simd());
    /* One statement per section: the layout is the order of these lines. */
    const size_t pb = j->p.size * sizeof(double);
    unsigned char *w = buf;
    w = put(w, &hd, sizeof hd);
    w = put(w, j->p.data, pb);
    w = put(w, m, pb);
    w = put(w, v, pb);
    w = put(w, fm, pb);
    w = put(w, fv, pb);
    w = put(w, j->curve, j->ncurve * sizeof *j->curve);
    w = put(w, j->lrows, j->nlyap * sizeof *j->lrows);
    w = put(w, j->drows, j->ndiag * sizeof *j->drows);
    w = put(w, gsl_rng_state(j->r_task), hd.rng_task);
    w = put(w, gsl_rng_state(j->r_floss), hd.rng_floss);
    const uint32_t crc = crc32_ieee(buf, need - sizeof crc);
    put(w, &crc, sizeof crc);
    return 0;
}

/* What train_run has produced when it stands at the loop head with these
 * counters: curve rows, exponent rows, and the steps of both Adams.  The
 * counters must already be in range (see ckpt_counters_ok). */
typedef struct ckpt_expect { long ncurve, nlyap, ndiag, opt_t, fopt_t; } ckpt_expect;

static ckpt_expect ckpt_expected(const config *c, const train_ckpt_head *hd)
{
    const long it = (long)hd->iter;
    ckpt_expect e;
    /* curve rows at i = 0..it-1 with i % log_every == 0 (i = iters is not reached) */
    e.ncurve = it > 0 ? (it - 1) / c->log_every + 1 : 0;
    /* training exponents after updates m = 1..it with m % lyap_every == 0, m < iters */
    const long last = it < c->iters - 1 ? it : c->iters - 1;
    const long ntrain = c->lyap_every > 0 && last > 0 ? last / c->lyap_every : 0;
    e.nlyap = c->lyap_k * (hd->init_measured + hd->floss_measured + ntrain);
    /* diagnostic steps i = 0..it-1 with i % diag_every == 0 */
    e.ndiag = c->diag_every > 0 && it > 0 ? ((it - 1) / c->diag_every + 1) * train_diag_per_step(c->rule) : 0;
    e.opt_t = it;
    e.fopt_t = hd->floss_done + (c->floss_every > 0 ? it / c->floss_every : 0);
    return e;
}

/* The counters describe a state train_run can stop in, or a fresh job. */
static int ckpt_counters_ok(const config *c, const train_ckpt_head *hd)
{
    if ((hd->init_measured != 0 && hd->init_measured != 1) ||
        (hd->floss_measured != 0 && hd->floss_measured != 1))
        return 0;
    if (hd->floss_done < 0 || hd->floss_done > c->floss_iters || hd->iter < 0 ||
        hd->iter > c->iters)
        return 0;
    if (!hd->init_measured && (hd->floss_done || hd->iter || hd->floss_measured))
        return 0; /* exponents at init come first */
    if (hd->floss_measured && (c->floss_iters == 0 || hd->floss_done != c->floss_iters))
        return 0;
    if (hd->iter > 0 && (hd->floss_done != c->floss_iters || (c->floss_iters > 0 && !hd->floss_measured)))
        return 0; /* training starts after flossing and its exponents */
    const ckpt_expect e = ckpt_expected(c, hd);
    return (long)hd->ncurve == e.ncurve && (long)hd->nlyap == e.nlyap &&
           (long)hd->ndiag == e.ndiag && hd->opt_t == e.opt_t &&
           hd->fopt_t == e.fopt_t;
}

/* Curve rows at iterations 0, log_every, ...; exponent rows in blocks of
 * lyap_k (idx 1..k) for init, flossing, then training at lyap_every,
 * 2 lyap_every, ... as far as the counters say. */
static int ckpt_rows_ok(const config *c, const train_ckpt_head *hd, const unsigned char *curve,
                        const unsigned char *lyap, const unsigned char *diag)
{
    /* diagnostic rows: per step, its names in enum order (drift only unless eprop/rflo) */
    const size_t per = (size_t)train_diag_per_step(c->rule);
    for (size_t r = 0; r < hd->ndiag; r++) {
        train_diag_row row;
        memcpy(&row, diag + r * sizeof row, sizeof row);
        if (row.iter != (long)(r / per) * c->diag_every ||
            row.name != (int)(DIAG_COUNT - per + r % per) || row.pad != 0)
            return 0;
    }
    for (size_t r = 0; r < hd->ncurve; r++) {
        train_curve_row row;
        memcpy(&row, curve + r * sizeof row, sizeof row);
        if (row.iter != (long)r * c->log_every)
            return 0;
    }
    const size_t k = (size_t)c->lyap_k, before = (size_t)(hd->init_measured + hd->floss_measured);
    for (size_t r = 0; r < hd->nlyap; r++) {
        const size_t b = r / k;
        const int phase = b < (size_t)hd->init_measured ? PHASE_INIT
                          : b < before                  ? PHASE_FLOSS
                                                        : PHASE_TRAIN;
        const long at = phase == PHASE_TRAIN ? (long)(b - before + 1) * c->lyap_every : 0;
        train_lyap_row row;
        memcpy(&row, lyap + r * sizeof row, sizeof row);
        if (row.phase != phase || row.iter != at || row.idx != (int)(r % k) + 1 || row.pad0 || row.pad1)
            return 0;
    }
    return 1;
}

/* A stored gsl mt19937 state has 32-bit words and a position 0..624. */
static int ckpt_rng_ok(const unsigned char *state, size_t n)
{
    if (n != sizeof(mt_state))
        return 0;
    mt_state s;
    memcpy(&s, state, sizeof s);
    if (s.mti < 0 || s.mti > 624)
        return 0;
    for (int i = 0; i < 624; i++)
        if (s.mt[i] > 0xFFFFFFFFUL)
            return 0;
    return 1;
}

/* The first reason the image cannot continue this job, or NULL if it can. */
static const char *ckpt_check(const train_job *j, const unsigned char *b, size_t n,
                              train_ckpt_head *hd)
{
    if (n < sizeof *hd + sizeof(uint32_t))
        return "too short to be a checkpoint";
    memcpy(hd, b, sizeof *hd);
    if (memcmp(hd->magic, TRAIN_CKPT_MAGIC, sizeof hd->magic) != 0)
        return "not a checkpoint of this format";
    if (hd->version != TRAIN_CKPT_VERSION || hd->head_size != sizeof *hd)
        return "checkpoint format version differs";
    if (hd->size != n)
        return "truncated or extended: size differs from its header";
    uint32_t crc;
    memcpy(&crc, b + n - sizeof crc, sizeof crc);
    if (crc != crc32_ieee(b, n - sizeof crc))
        return "damaged: CRC-32 mismatch";
    if (hd->hash != j->hash)
        return "written for another config";
    if (hd->nparams != j->p.size || hd->ncurve > j->maxcurve || hd->nlyap > j->maxlyap ||
        hd->ndiag > j->maxdiag || hd->rng_task != gsl_rng_size(j->r_task) ||
        hd->rng_floss != gsl_rng_size(j->r_floss) ||
        n != ckpt_bytes(hd->nparams, hd->ncurve, hd->nlyap, hd->ndiag, hd->rng_task, hd->rng_floss))
        return "array sizes differ from the job's";
    if (!ckpt_counters_ok(&j->cfg, hd))
        return "counters out of range or inconsistent";
    if (!memchr(hd->blas_core, 0, sizeof hd->blas_core) || !memchr(hd->simd, 0, sizeof hd->simd))
        return "unterminated BLAS core or SIMD name";
    const unsigned char *curve = b + sizeof *hd + 5 * hd->nparams * sizeof(double);
    const unsigned char *lyap = curve + hd->ncurve * sizeof(train_curve_row);
    const unsigned char *diag = lyap + hd->nlyap * sizeof(train_lyap_row);
    const unsigned char *rt = diag + hd->ndiag * sizeof(train_diag_row);
    if (!ckpt_rows_ok(&j->cfg, hd, curve, lyap, diag))
        return "curve, exponent or diagnostic rows out of order";
    if (!ckpt_rng_ok(rt, hd->rng_task) || !ckpt_rng_ok(rt + hd->rng_task, hd->rng_floss))
        return "malformed rng state";
    return NULL;
}

int train_checkpoint_load(train_job *j, const void *buf, size_t n, char note[256])
{
    train_ckpt_head hd;
    note[0] = 0;
    const char *why = ckpt_check(j, buf, n, &hd);
    if (why) {
        snprintf(note, 256, "%s", why);
        return -1;
    }
    /* Valid: copy in the order of train_checkpoint_save. */
    double *m, *v, *fm, *fv;
    long *t, *ft;
    size_t np;
    adam_state(j->opt, &m, &v, &t, &np);
    adam_state(j->fopt, &fm, &fv, &ft, &np);
    const size_t pb = j->p.size * sizeof(double);
    const unsigned char *r = (const unsigned char *)buf + sizeof hd;
    double *const dst[5] = {j->p.data, m, v, fm, fv};
    for (int s = 0; s < 5; s++, r += pb)
        memcpy(dst[s], r, pb);
    memcpy(j->curve, r, hd.ncurve * sizeof *j->curve);
    r += hd.ncurve * sizeof *j->curve;
    memcpy(j->lrows, r, hd.nlyap * sizeof *j->lrows);
    r += hd.nlyap * sizeof *j->lrows;
    memcpy(j->drows, r, hd.ndiag * sizeof *j->drows);
    r += hd.ndiag * sizeof *j->drows;
    memcpy(gsl_rng_state(j->r_task), r, hd.rng_task);
    r += hd.rng_task;
    memcpy(gsl_rng_state(j->r_floss), r, hd.rng_floss);
    j->ncurve = hd.ncurve;
    j->nlyap = hd.nlyap;
    j->ndiag = hd.ndiag;
    j->floss_done = hd.floss_done;
    j->iter = hd.iter;
    *t = hd.opt_t;
    *ft = hd.fopt_t;
    j->init_measured = hd.init_measured;
    j->floss_measured = hd.floss_measured;
    const char *core = blasenv_core(), *simd = kernel_simd();
    if (strcmp(core, hd.blas_core) != 0 || strcmp(simd, hd.simd) != 0)
        snprintf(note, 256,
                 "resumed on BLAS core %.31s / SIMD %s; checkpoint written with %.31s / %.15s: "
                 "results may differ in the last bits",
                 core, simd, hd.blas_core, hd.simd);
    return 0;
}
