/* train_int.h — the train_job struct, shared by the trainer (train.c) and
 * its checkpoint image (train_ckpt.c); not a public header.  Everything a
 * job owns is allocated once by train_alloc. */
#ifndef RNNSWEEP_TRAIN_INT_H
#define RNNSWEEP_TRAIN_INT_H

#include "rnnsweep/adam.h"
#include "rnnsweep/floss.h"
#include "rnnsweep/lyap.h"
#include "rnnsweep/rule.h"
#include "rnnsweep/task.h"
#include "rnnsweep/train.h"

#include <stdint.h>

struct train_job {
    config cfg;
    init_spec init;          /* cfg's initialisation (init_params, Dale's clamp) */
    uint64_t hash;
    int T, N, I, O, B;
    rnn_params p, p0, grad;  /* parameters now, at init, gradient */
    double *B_fb;            /* (N,O) rflo feedback */
    double *Q0;              /* (N,lyap_k) */
    double *Qf;              /* (N,floss_k) */
    double *lam;             /* (max(B,E),max(lyap_k,floss_k)) */
    adam *opt, *fopt;        /* training and flossing Adam */
    gsl_rng *r_task, *r_floss;
    task_batch *tb, *fb;
    task_batch *lyb;         /* (E trials) the first lyap_batch validation trials */
    task_batch *ev;          /* (E trials) one evaluation chunk */
    rnn_cache cache;         /* (T,B) training */
    rnn_cache ecache;        /* (T,E) exponents and evaluation */
    rule_work *rw;
    lyap_work *lw;
    floss_work *fw;
    train_curve_row *curve;
    size_t ncurve, maxcurve;
    train_lyap_row *lrows;   /* (maxlyap) */
    size_t nlyap, maxlyap;
    train_diag_row *drows;   /* (maxdiag) diagnostics, SPEC §8 */
    size_t ndiag, maxdiag;
    rnn_params gref;         /* BPTT gradient on diagnostic steps (eprop, rflo) */
    /* counters: the resumable state */
    long floss_done, iter;
    int init_measured, floss_measured;
};

#endif
