/* task.h — the three cognitive tasks (SPEC §2): romo, 2af, dms.
 *
 * A task_batch holds B trials of one task, all of length T, as plain arrays
 * that the trainer and the .npy dumps read directly.  Filling a batch draws
 * only from the gsl_rng it is given, so the same seeded stream gives the same
 * batch.  The task also owns its loss (masked MSE for romo, mean cross-entropy
 * for 2af/dms), the loss gradient with respect to the outputs, and accuracy.
 */
#ifndef RNNSWEEP_TASK_H
#define RNNSWEEP_TASK_H

#include <gsl/gsl_rng.h>

enum task_kind { TASK_ROMO = 0, TASK_2AF = 1, TASK_DMS = 2 };

/* The tasks' names, indexed by enum task_kind: the one list that task_name
 * and the config key `task` (config.c) read. */
#define TASK_NAMES "romo", "2af", "dms"

/* "romo", "2af" or "dms" for an enum task_kind value; NULL if unknown. */
const char *task_name(int kind);

typedef struct task_batch {
    int kind;        /* enum task_kind */
    int T, B, I, O;  /* steps, trials, inputs, outputs */
    int xent;        /* 1: cross-entropy over O classes (labels); 0: masked MSE (target) */
    double *x;       /* (T,B,I) inputs */
    double *target;  /* (T,B,O) MSE targets; NULL for cross-entropy tasks */
    long *labels;    /* (T,B) class labels in 0..O-1; NULL for MSE tasks */
    double *mask;    /* (T,B) loss weights (all ones for cross-entropy tasks) */
    int *decide;     /* (T,B) 1 in each trial's decision period */
    int *truth;      /* (B) correct choice: romo 0/1 = argmax(f1,f2); 2af 0/1; dms 1 match, 2 non-match */
    double *aux;     /* (B,3) per-trial draws: romo (f1, f2, delay steps); 2af (coh, gt, 0); dms (sample dir, gt, 0) */
} task_batch;

/* Steps, inputs and outputs of a task with its default timing; -1 if kind unknown. */
int task_dims(int kind, int *T, int *I, int *O);

/* Default alpha = dt/tau of the task (0.5 for all three, SPEC §2). */
double task_default_alpha(int kind);

/* Allocate a batch of B trials (NULL on failure); free accepts NULL. */
task_batch *task_batch_alloc(int kind, int B);
void task_batch_free(task_batch *tb);

/* Draw B fresh trials from r.  Returns 0. */
int task_batch_fill(task_batch *tb, gsl_rng *r);

/* Loss of outputs y (T,B,O) on the batch; if dy (T,B,O) is not NULL it
 * receives dL/dy. */
double task_loss(const task_batch *tb, const double *y, double *dy);

/* Fraction of trials answered correctly (SPEC §2 for each task). */
double task_accuracy(const task_batch *tb, const double *y);

/* The same two, unnormalised, so that a large batch evaluated chunk by
 * chunk gives its exact loss and accuracy: task_loss = *sum / *weight
 * (MSE: half the masked squared error and the mask's sum; cross-entropy:
 * the masked sum and the mask's sum), task_accuracy = correct / B. */
void task_loss_sums(const task_batch *tb, const double *y, double *sum, double *weight);
int task_correct(const task_batch *tb, const double *y);

#endif
