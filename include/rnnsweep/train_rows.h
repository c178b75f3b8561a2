/* train_rows.h — the result rows a job produces: learning curve, exponents, diagnostics.
 *
 * Plain structs, with the names under which the results database stores
 * their phase and diagnostic fields.  The trainer (train.h) fills them, the
 * farm sends them and the store writes them; this header is all those
 * layers share, so the store needs nothing of the trainer.  The layouts are
 * part of the checkpoint image (train.h) and of the farm's messages: a field
 * added here changes both.
 */
#ifndef RNNSWEEP_TRAIN_ROWS_H
#define RNNSWEEP_TRAIN_ROWS_H

/* When exponents were measured: at initialisation, after flossing, during
 * training (lyap_every), after training. */
enum lyap_phase { PHASE_INIT = 0, PHASE_FLOSS = 1, PHASE_TRAIN = 2, PHASE_TRAINED = 3 };

/* "init", "floss", "train", "trained" (the lyapunov table's phase) for an
 * enum lyap_phase value; NULL if out of range. */
const char *train_phase_name(int phase);

typedef struct train_curve_row { long iter; double loss, accuracy; } train_curve_row;

/* One exponent at one phase: mean and sd over the batch's trials, nats/step. */
typedef struct train_lyap_row {
    int phase, pad0;  /* pad0, pad1 = 0: no hidden padding, so checkpoint */
    long iter;        /* images and messages repeat bit for bit */
    int idx, pad1;
    double mean, sd;
} train_lyap_row;

/* Diagnostics (SPEC §8), every diag_every training iterations and at 0 and
 * the last, on that step's training batch with the parameters before its
 * update.  align_*: cosine between the rule's gradient and BPTT's exact
 * gradient of W_rec, W_in, b, and of the three concatenated (eprop and rflo
 * only); drift_*: ||X - X_0||_F / ||X_0||_F, X_0 the tensor as initialised
 * (before flossing), for every rule.  NaN where undefined (a zero norm). */
enum train_diag_name {
    DIAG_ALIGN_W_REC, DIAG_ALIGN_W_IN, DIAG_ALIGN_B, DIAG_ALIGN_REC,
    DIAG_DRIFT_W_REC, DIAG_DRIFT_W_IN, DIAG_DRIFT_W_OUT, DIAG_COUNT
};
typedef struct train_diag_row { long iter; int name, pad; double value; } train_diag_row;

/* "align_W_rec", ... "drift_W_out" (the diagnostics table's names); NULL if
 * out of range. */
const char *train_diag_name(int name);

#endif
