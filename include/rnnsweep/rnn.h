/* rnn.h — the leaky rate RNN of SPEC §1: parameters, initialisation, forward pass.
 *
 *   h_0 = 0
 *   h_t = (1 - alpha) h_{t-1} + alpha (W_rec f(h_{t-1}) + W_in x_t + b)
 *   y_t = W_out f(h_t) + b_out
 *
 * All five tensors live in one flat float64 array (rnn_params.data) in the
 * order W_in (N,I), W_rec (N,N), b (N), W_out (O,N), b_out (O), row-major, so
 * that gradients, Adam moments, checkpoints and finite-difference loops treat
 * them as one vector.  The forward cache (rnn_cache) is plain arrays with
 * their shapes, sized once per job; the forward pass allocates nothing.
 */
#ifndef RNNSWEEP_RNN_H
#define RNNSWEEP_RNN_H

#include <stddef.h>
#include <gsl/gsl_rng.h>

enum act_kind { ACT_TANH = 0, ACT_RELU = 1 };

/* The activations' names, indexed by enum act_kind (the config key `activation`). */
#define ACT_NAMES "tanh", "relu"

enum rnn_tensor { RNN_W_IN, RNN_W_REC, RNN_B, RNN_W_OUT, RNN_B_OUT, RNN_NTENSORS };

typedef struct rnn_params {
    int N, I, O;
    size_t size;        /* total doubles */
    double *data;       /* (size) owned unless made by rnn_params_wrap */
    double *W_in;       /* (N,I) */
    double *W_rec;      /* (N,N) */
    double *b;          /* (N) */
    double *W_out;      /* (O,N) */
    double *b_out;      /* (O) */
    int owner;
} rnn_params;

typedef struct rnn_cache {
    int T, B, N, O;
    double *h;   /* (T+1,B,N) states, h[0] = h_0 */
    double *r;   /* (T+1,B,N) f(h) */
    double *y;   /* (T,B,O) outputs */
    double *W_rec_packed; /* W_rec^T (N,N) in the panel layout of the step
                             product kernel (src/kernel.h), 64-byte aligned;
                             rnn_forward's scratch, repacked on every call.
                             NULL where the CPU lacks the kernel. */
} rnn_cache;

/* Number of doubles of all five tensors. */
size_t rnn_params_size(int N, int I, int O);

/* Allocate zeroed parameters (returns -1 on failure); free accepts NULL/unallocated. */
int rnn_params_alloc(rnn_params *p, int N, int I, int O);
void rnn_params_free(rnn_params *p);

/* Point p's tensors into caller-owned memory data (size doubles). */
void rnn_params_wrap(rnn_params *p, int N, int I, int O, double *data);

/* Name, shape and offset of tensor t (enum rnn_tensor). */
const char *rnn_tensor_name(int t);
void rnn_tensor_shape(const rnn_params *p, int t, int *rows, int *cols);
double *rnn_tensor(const rnn_params *p, int t);

/* SPEC §1 initialisation: W_rec = gain * Z, Z ~ N(0, 1/N); W_in ~ U(+-1/sqrt(I));
 * W_out ~ U(+-1/sqrt(N)); b = b_out = 0.  Draws in a fixed order from r, so the
 * same stream gives the same Z for every gain. */
void rnn_params_init(rnn_params *p, double gain, gsl_rng *r);

/* Elementwise activation r = f(h) and derivative d = f'(h) given h and r = f(h). */
void rnn_act(int act, const double *h, double *r, size_t n);
void rnn_act_deriv(int act, const double *h, const double *r, double *d, size_t n);

/* Allocate the cache of a (T,B) batch for N units and O outputs, every
 * buffer at once (returns -1 on failure, c then zeroed); free accepts NULL
 * and a zeroed cache. */
int rnn_cache_alloc(rnn_cache *c, int T, int B, int N, int O);
void rnn_cache_free(rnn_cache *c);

/* The forward pass of the program (training, evaluation, exponents, dumps,
 * flossing): over x (T,B,I) from h_0 = 0 with the cache's T and B and
 * p->N = c->N; fills c->h, c->r, c->y (and c->W_rec_packed from p->W_rec).
 * Allocates nothing. */
void rnn_forward(const rnn_params *p, int act, double alpha,
                 const double *x /* (T,B,I) */, rnn_cache *c);

#endif
