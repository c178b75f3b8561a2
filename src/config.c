/* config.c — the job parameter table: parsing, validation, canonical text, hash.
 *
 * One row per key drives everything a key needs (type, bounds, default,
 * help), so a new job parameter is one line here plus one struct field.
 * Canonical text lists the keys in table order with reals as `%.17g`, so two
 * configs are the same job exactly when their canonical texts are equal.
 * Every key of the first version (since = 1) is always listed; a key added
 * later (since >= 2) is listed only when it differs from its default, so the
 * canonical text and hash of every config that leaves the new keys at their
 * defaults are those of the version that did not have them (tests/test_config.c
 * pins both to literal values of that version).
 */
#include "rnnsweep/config.h"

#include "textutil.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The enum keys' choices: the owners' name lists (task.h, rule.h, ...). */
static const char *const task_names[] = {TASK_NAMES, NULL};
static const char *const rule_names[] = {RULE_NAMES, NULL};
static const char *const act_names[] = {ACT_NAMES, NULL};
static const char *const floss_mode_names[] = {FLOSS_MODE_NAMES, NULL};
static const char *const init_names[] = {INIT_NAMES, NULL};
static const char *const gain_norm_names[] = {GAIN_NORM_NAMES, NULL};

#define OFF(f) offsetof(config, f)
#define BIG 1e9

static const config_key keys[] = {
    {"task", CK_ENUM, OFF(task), task_names, 0, 0, "romo",
     "task: romo (parametric working memory), 2af (perceptual decision), dms (delayed match-to-sample)", 1},
    {"rule", CK_ENUM, OFF(rule), rule_names, 0, 0, "bptt",
     "learning rule: bptt (exact), eprop (symmetric feedback), rflo (random feedback), readout (W_out, b_out only: the reservoir control)", 1},
    {"gain", CK_REAL, OFF(gain), NULL, 0, 1e3, "1",
     "initial recurrent gain g: bulk spectral radius of W_rec (gaussian: W_rec ~ N(0, g^2/N))", 1},
    {"init", CK_ENUM, OFF(init), init_names, 0, 0, "gaussian",
     "W_rec family, bulk spectral radius ~ g: gaussian, orthogonal, sparse, dale, lowrank", 2},
    {"gain_norm", CK_ENUM, OFF(gain_norm), gain_norm_names, 0, 0, "std",
     "std: W_rec scaled by g as its family says; radius: rescaled to spectral radius g exactly", 2},
    {"density", CK_REAL, OFF(density), NULL, 1e-6, 1, "0.1",
     "init=sparse: probability of a nonzero entry; nonzeros ~ N(0, g^2/(density N))", 2},
    {"frac_exc", CK_REAL, OFF(frac_exc), NULL, 0, 1, "0.8",
     "init=dale: fraction of excitatory units (columns >= 0, the rest <= 0, rows sum to 0; signs kept in learning)", 2},
    {"lowrank_rank", CK_INT, OFF(lowrank_rank), NULL, 1, 65536, "1",
     "init=lowrank: rank R of W_rec = g chi + (lowrank_scale/N) sum_r m_r n_r^T", 2},
    {"lowrank_scale", CK_REAL, OFF(lowrank_scale), NULL, 0, 1e6, "1",
     "init=lowrank: scale of the structured part (lowrank_scale/N) sum_r m_r n_r^T", 2},
    {"lr", CK_REAL, OFF(lr), NULL, 1e-12, 1e3, "0.001", "Adam learning rate", 1},
    {"seed", CK_INT, OFF(seed), NULL, 0, 9007199254740991.0, "0",
     "seed of initial weights, feedback matrix, Q0 and task batches", 1},
    {"hidden", CK_INT, OFF(hidden), NULL, 1, 65536, "64", "number of hidden units N", 1},
    {"batch", CK_INT, OFF(batch), NULL, 1, 1e6, "32", "trials per batch B", 1},
    {"iters", CK_INT, OFF(iters), NULL, 0, BIG, "1000", "training iterations (Adam steps)", 1},
    {"alpha", CK_REAL, OFF(alpha), NULL, 0, 1, "0",
     "leak dt/tau in (0,1]; 0 = the task's default (0.5)", 1},
    {"activation", CK_ENUM, OFF(activation), act_names, 0, 0, "tanh", "activation f: tanh or relu", 1},
    {"log_every", CK_INT, OFF(log_every), NULL, 1, BIG, "10",
     "learning-curve row every this many iterations (and at 0 and the last)", 1},
    {"floss_iters", CK_INT, OFF(floss_iters), NULL, 0, BIG, "0",
     "gradient-flossing pretraining steps before training (0 = off; the study used 100)", 1},
    {"floss_lr", CK_REAL, OFF(floss_lr), NULL, 1e-12, 1e3, "0.001", "Adam learning rate for flossing", 1},
    {"floss_k", CK_INT, OFF(floss_k), NULL, 1, 65536, "1", "number of Lyapunov exponents flossed (toward floss_target)", 1},
    {"floss_mode", CK_ENUM, OFF(floss_mode), floss_mode_names, 0, 0, "full",
     "flossing gradient: full (exact), local (h and Q frozen per step), detach_h (h frozen, through Q)", 1},
    {"floss_target", CK_REAL, OFF(floss_target), NULL, -10, 10, "0",
     "lambda*: flossing minimises mean (lambda - lambda*)^2 (0 = the study's edge of chaos)", 2},
    {"floss_every", CK_INT, OFF(floss_every), NULL, 0, BIG, "0",
     "also floss once every this many training iterations (0 = off)", 1},
    {"lyap_k", CK_INT, OFF(lyap_k), NULL, 1, 65536, "4", "number of Lyapunov exponents measured", 1},
    {"lyap_warmup", CK_INT, OFF(lyap_warmup), NULL, 0, BIG, "0",
     "QR steps discarded before exponents accumulate", 1},
    {"lyap_every_qr", CK_INT, OFF(lyap_every_qr), NULL, 1, BIG, "1", "QR every this many steps", 1},
    {"lyap_every", CK_INT, OFF(lyap_every), NULL, 0, BIG, "0",
     "also measure exponents every this many training iterations (0 = off)", 1},
    {"diag_every", CK_INT, OFF(diag_every), NULL, 0, BIG, "0",
     "diagnostics every this many iterations, with 0 and the last (0 = off): gradient alignment with BPTT, weight drift", 2},
    {"val_batch", CK_INT, OFF(val_batch), NULL, 1, 1e7, "256",
     "validation trials (the seed's own stream): choose the lr on them; a multiple of lyap_batch", 2},
    {"test_batch", CK_INT, OFF(test_batch), NULL, 1, 1e7, "1024",
     "test trials (the seed's own stream): what figures and tables report; a multiple of lyap_batch", 2},
    {"lyap_batch", CK_INT, OFF(lyap_batch), NULL, 1, 1e6, "32",
     "exponents are measured on the first lyap_batch validation trials (also the evaluation chunk)", 2},
};

#define NKEYS (sizeof keys / sizeof keys[0])

const config_key *config_keys(size_t *n)
{
    *n = NKEYS;
    return keys;
}

int config_key_find(const char *name)
{
    char norm[64];
    size_t i;
    for (i = 0; name[i] && i + 1 < sizeof norm; i++)
        norm[i] = name[i] == '-' ? '_' : name[i];
    if (name[i])
        return -1;
    norm[i] = 0;
    for (size_t k = 0; k < NKEYS; k++)
        if (strcmp(keys[k].name, norm) == 0)
            return (int)k;
    return -1;
}

static int enum_index(const char *const *choices, const char *s)
{
    for (int i = 0; choices[i]; i++)
        if (strcmp(choices[i], s) == 0)
            return i;
    return -1;
}

const char *config_enum_name(const char *key, int value)
{
    int k = config_key_find(key);
    if (k < 0 || keys[k].kind != CK_ENUM || value < 0)
        return NULL;
    for (int i = 0; keys[k].choices[i]; i++)
        if (i == value)
            return keys[k].choices[i];
    return NULL;
}

static void choices_text(const char *const *choices, char *buf, size_t n)
{
    buf[0] = 0;
    for (int i = 0; choices[i]; i++) {
        size_t l = strlen(buf);
        snprintf(buf + l, n - l, "%s%s", i ? ", " : "", choices[i]);
    }
}

int config_set(config *c, int k, const char *value, char err[CONFIG_ERRLEN])
{
    if (k < 0 || (size_t)k >= NKEYS) {
        snprintf(err, CONFIG_ERRLEN, "unknown key");
        return -1;
    }
    const config_key *key = &keys[k];
    char buf[CONFIG_VALUE_MAX + 1];
    size_t len;
    const char *v = text_strip(value, &len);
    char *field = (char *)c + key->offset;
    if (len >= sizeof buf) {
        snprintf(err, CONFIG_ERRLEN, "value of %zu bytes is longer than the %d allowed", len,
                 CONFIG_VALUE_MAX);
        return -1;
    }
    v = memcpy(buf, v, len);
    buf[len] = 0;
    if (!*v) {
        snprintf(err, CONFIG_ERRLEN, "empty value");
        return -1;
    }
    if (key->kind == CK_ENUM) {
        int i = enum_index(key->choices, v);
        if (i < 0) {
            char ch[128];
            choices_text(key->choices, ch, sizeof ch);
            snprintf(err, CONFIG_ERRLEN, "unknown value '%s' (choose from %s)", v, ch);
            return -1;
        }
        *(int *)field = i;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end) {
        snprintf(err, CONFIG_ERRLEN, "'%s' is not a number", v);
        return -1;
    }
    if (!isfinite(d)) {
        snprintf(err, CONFIG_ERRLEN, "'%s' is not finite", v);
        return -1;
    }
    if (key->kind == CK_INT) {
        if (d != floor(d)) {
            snprintf(err, CONFIG_ERRLEN, "'%s' is not an integer", v);
            return -1;
        }
    }
    if (d < key->min || d > key->max) {
        snprintf(err, CONFIG_ERRLEN, "%s is out of range: must be between %.15g and %.15g", v,
                 key->min, key->max);
        return -1;
    }
    if (key->kind == CK_INT)
        *(long *)field = (long)d;
    else
        *(double *)field = d == 0 ? 0.0 : d; /* -0 is 0: one canonical text, one job */
    return 0;
}

void config_get(const config *c, int k, char *buf, size_t n)
{
    const config_key *key = &keys[k];
    const char *field = (const char *)c + key->offset;
    switch (key->kind) {
    case CK_ENUM: snprintf(buf, n, "%s", key->choices[*(const int *)field]); break;
    case CK_INT: snprintf(buf, n, "%ld", *(const long *)field); break;
    default: snprintf(buf, n, "%.17g", *(const double *)field); break;
    }
}

void config_default(config *c)
{
    char err[CONFIG_ERRLEN];
    memset(c, 0, sizeof *c);
    for (size_t k = 0; k < NKEYS; k++)
        (void)config_set(c, (int)k, keys[k].deflt, err);
}

/* Set key `name` of c back to its default. */
static void reset_key(config *c, const char *name)
{
    char err[CONFIG_ERRLEN];
    const int k = config_key_find(name);
    (void)config_set(c, k, keys[k].deflt, err);
}

/* The keys added after version 1 that this job does not use, at their
 * defaults: they cannot change the job, so they must not change its hash. */
static void reset_unused(config *c)
{
    if (c->init != INIT_SPARSE)
        reset_key(c, "density");
    if (c->init != INIT_DALE)
        reset_key(c, "frac_exc");
    if (c->init != INIT_LOWRANK) {
        reset_key(c, "lowrank_rank");
        reset_key(c, "lowrank_scale");
    }
    if (c->floss_iters == 0 && c->floss_every == 0)
        reset_key(c, "floss_target");
}

void config_init_spec(const config *c, init_spec *s)
{
    *s = (init_spec){c->init, c->gain_norm, c->gain, c->density, c->frac_exc, c->lowrank_rank,
                     c->lowrank_scale};
}

int config_resolve(config *c, long steps, char err[CONFIG_ERRLEN])
{
    int T, I, O;
    task_dims(c->task, &T, &I, &O);
    if (steps > 0)
        T = (int)steps;
    if (c->alpha == 0)
        c->alpha = task_default_alpha(c->task);
    if (c->floss_k > c->hidden) {
        snprintf(err, CONFIG_ERRLEN, "floss_k: %ld exceeds hidden (%ld)", c->floss_k, c->hidden);
        return -1;
    }
    if (c->lyap_k > c->hidden) {
        snprintf(err, CONFIG_ERRLEN, "lyap_k: %ld exceeds hidden (%ld)", c->lyap_k, c->hidden);
        return -1;
    }
    if (c->val_batch % c->lyap_batch != 0) {
        snprintf(err, CONFIG_ERRLEN, "val_batch: %ld is not a multiple of lyap_batch (%ld)",
                 c->val_batch, c->lyap_batch);
        return -1;
    }
    if (c->test_batch % c->lyap_batch != 0) {
        snprintf(err, CONFIG_ERRLEN, "test_batch: %ld is not a multiple of lyap_batch (%ld)",
                 c->test_batch, c->lyap_batch);
        return -1;
    }
    if (c->lyap_warmup >= T) {
        snprintf(err, CONFIG_ERRLEN, "lyap_warmup: %ld must be below the %d steps of the sequence",
                 c->lyap_warmup, T);
        return -1;
    }
    if (c->init == INIT_LOWRANK && c->lowrank_rank > c->hidden) {
        snprintf(err, CONFIG_ERRLEN, "lowrank_rank: %ld exceeds hidden (%ld)", c->lowrank_rank,
                 c->hidden);
        return -1;
    }
    if (c->init == INIT_DALE) {
        const long ne = lround(c->frac_exc * (double)c->hidden);
        if (ne < 1 || ne > c->hidden - 1) {
            snprintf(err, CONFIG_ERRLEN,
                     "frac_exc: %.17g gives %ld excitatory of %ld units; dale needs at least one "
                     "excitatory and one inhibitory unit", c->frac_exc, ne, c->hidden);
            return -1;
        }
    }
    reset_unused(c);
    return 0;
}

int config_is_default(const config *c, int k)
{
    config d;
    char v[64], dv[64], err[CONFIG_ERRLEN];
    if (config_set(&d, k, keys[k].deflt, err) != 0)
        return 0;
    config_get(c, k, v, sizeof v);
    config_get(&d, k, dv, sizeof dv);
    return strcmp(v, dv) == 0;
}

size_t config_canonical(const config *c, char *buf, size_t n)
{
    size_t len = 0;
    char v[64];
    for (size_t k = 0; k < NKEYS; k++) {
        if (keys[k].since > 1 && config_is_default(c, (int)k))
            continue;
        config_get(c, (int)k, v, sizeof v);
        int w = snprintf(n > len ? buf + len : NULL, n > len ? n - len : 0, "%s=%s\n",
                         keys[k].name, v);
        len += (size_t)w;
    }
    return len;
}

uint64_t config_hash(const config *c)
{
    char buf[4096];
    size_t len = config_canonical(c, buf, sizeof buf);
    return text_fnv1a(buf, len < sizeof buf ? len : sizeof buf);
}
