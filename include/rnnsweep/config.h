/* config.h — one job's parameters: the struct, its keys, parsing, canonical text, hash.
 *
 * Every job parameter has exactly one snake_case key (`floss_iters`) that is
 * also its long command-line option with '-' for '_' (`--floss-iters`) and its
 * sweep-file key.  A single table in config.c drives parsing, validation,
 * defaults, help text and the canonical `key=value` text whose hash is the
 * job's identity in the results database.  The struct is plain data.
 *
 * Hash stability: the keys of the first version (`since` = 1) are always in
 * the canonical text; a key added later (`since` >= 2) is written only when
 * its value differs from its default, so adding a key leaves the hash of
 * every existing job unchanged and an old database keeps its jobs.
 */
#ifndef RNNSWEEP_CONFIG_H
#define RNNSWEEP_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* The enums of the keys belong to the modules that read them; config sits
 * above those modules and none of them includes it. */
#include "rnnsweep/floss.h"   /* enum floss_mode */
#include "rnnsweep/init.h"    /* enum init_kind, enum gain_norm, init_spec */
#include "rnnsweep/rnn.h"     /* enum act_kind */
#include "rnnsweep/rule.h"    /* enum rule_kind */
#include "rnnsweep/task.h"    /* enum task_kind */

typedef struct config {
    int task;          /* enum task_kind */
    int rule;          /* enum rule_kind */
    int activation;    /* enum act_kind */
    double gain;       /* g: bulk spectral radius of W_rec (init.h) */
    int init;          /* enum init_kind: family of W_rec (SPEC §9) */
    int gain_norm;     /* enum gain_norm: std (scale by g) or radius (rescale to radius g) */
    double density;    /* sparse: probability of a nonzero entry */
    double frac_exc;   /* dale: fraction of excitatory units */
    long lowrank_rank; /* lowrank: rank of the structured part (SPEC's `rank`; the jobs
                          table's `rank` column is the MPI rank that ran the job) */
    double lowrank_scale; /* lowrank: scale of the structured part */
    double lr;         /* Adam learning rate */
    long seed;         /* initial weights, B_fb, Q0 and task batches derive from it */
    long hidden;       /* N */
    long batch;        /* B */
    long iters;        /* training iterations (Adam steps) */
    double alpha;      /* dt/tau; 0 means the task's default (resolved by config_resolve) */
    long log_every;    /* curve row every this many iterations (and the last) */
    long floss_iters;  /* flossing pretraining steps, 0 = off */
    double floss_lr;   /* Adam learning rate for flossing */
    long floss_k;      /* exponents flossed */
    int floss_mode;    /* enum floss_mode */
    double floss_target; /* lambda*: flossing pushes exponents toward it */
    long floss_every;  /* interleaved flossing every this many training iterations, 0 = off */
    long lyap_k;       /* exponents measured at each phase */
    long lyap_warmup;  /* QR steps discarded before accumulating */
    long lyap_every_qr;/* QR every this many steps */
    long lyap_every;   /* exponents during training every this many iterations, 0 = off */
    long diag_every;   /* diagnostics (alignment, drift) every this many iterations, 0 = off */
    long val_batch;    /* validation trials (lr selection), a multiple of lyap_batch */
    long test_batch;   /* test trials (reported), a multiple of lyap_batch */
    long lyap_batch;   /* exponents on the first lyap_batch validation trials */
} config;

/* Value kinds of the key table. */
enum config_kind { CK_ENUM, CK_INT, CK_REAL };

typedef struct config_key {
    const char *name;      /* snake_case key */
    int kind;              /* enum config_kind; the field is int (enum), long or double */
    const char *const *choices; /* CK_ENUM: NULL-terminated names, index = value */
    double min, max;       /* inclusive numeric bounds (CK_INT, CK_REAL) */
    const char *deflt;     /* default as text */
    const char *help;      /* one line for --help */
    int since;             /* key-table version that added the key: 1 = always in the
                              canonical text; >= 2 = there only when not at its default */
} config_key;

#define CONFIG_ERRLEN 256
/* Longest value config_set accepts, in bytes after stripping blanks. */
#define CONFIG_VALUE_MAX 127

/* All keys in canonical order; *n receives their count. */
const config_key *config_keys(size_t *n);

/* Index of `name` in the key table, accepting '-' for '_'; -1 if unknown. */
int config_key_find(const char *name);

/* Defaults of every key (alpha left 0 = task default until config_resolve). */
void config_default(config *c);

/* Parse `value` for key index `k` into c.  Rejects values over
 * CONFIG_VALUE_MAX bytes, non-numbers, trailing junk, NaN/inf, out-of-range
 * values and unknown enum names; a real -0 is stored as 0.  On error
 * returns -1 and writes a one-line reason (without the key name) to err. */
int config_set(config *c, int k, const char *value, char err[CONFIG_ERRLEN]);

/* Write key k's value of c as canonical text (`%.17g` reals, enum names). */
void config_get(const config *c, int k, char *buf, size_t n);

/* Key k's value in its field's own C type: `i` for CK_ENUM (the index into
 * the key's choices), `l` for CK_INT, `d` for CK_REAL.  Only config.c knows
 * where a key's field lies in the struct; everyone else goes through these. */
typedef union config_value { int i; long l; double d; } config_value;

/* Key k's value in c (k a valid key index). */
config_value config_value_get(const config *c, int k);

/* Store v as key k's value in c, unchecked: v must come from config_value_get
 * or config_set (of any config), since no bound or enum range is checked. */
void config_value_set(config *c, int k, config_value v);

/* Fill task defaults (alpha) and check cross-key constraints (floss_k and
 * lyap_k <= hidden, lyap_warmup < steps, where steps = 0 means the task's
 * sequence length; lowrank_rank <= hidden for lowrank; at least one excitatory and
 * one inhibitory unit for dale).  Keys added after version 1 that the job
 * does not use are reset to their defaults (density unless init = sparse,
 * frac_exc unless dale, lowrank_rank and lowrank_scale unless lowrank, floss_target
 * without flossing), so a grid over them merges the jobs they cannot change.
 * Returns 0, or -1 with err naming the key at fault
 * ("lyap_k: 300 exceeds hidden (256)"). */
int config_resolve(config *c, long steps, char err[CONFIG_ERRLEN]);

/* Whether key k is at its default value in c (compared as canonical text). */
int config_is_default(const config *c, int k);

/* Canonical text: `key=value\n` in table order for every key of version 1
 * and every later key not at its default.  Returns the length it needs
 * (like snprintf). */
size_t config_canonical(const config *c, char *buf, size_t n);

/* Parse canonical text (config_canonical's `key=value` lines; empty lines
 * skipped) into c, starting from the defaults, so a key absent from the text
 * is at its default.  Returns 0, or -1 with a one-line reason in err:
 * "line too long", "line 'x' is not key=value", "has key 'x' this rnnsweep
 * does not know", "key 'x': <config_set's reason>".  No config_resolve. */
int config_parse_canonical(const char *text, config *c, char err[CONFIG_ERRLEN]);

/* 64-bit FNV-1a hash of the canonical text: the job's identity. */
uint64_t config_hash(const config *c);

/* The initialisation part of a job config (init.h). */
void config_init_spec(const config *c, init_spec *s);

/* Name of an enum key's value (e.g. "task", TASK_2AF -> "2af"); NULL if unknown. */
const char *config_enum_name(const char *key, int value);

#endif
