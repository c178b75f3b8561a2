/* config.c — the job parameter table: parsing, validation, canonical text, hash.
 *
 * One row per key drives everything a key needs (type, bounds, default,
 * help), so a new job parameter is one line here plus one struct field of
 * the same name; this file alone knows where the fields lie (offsets[], read
 * and written by config_value_get/set), and a field whose C type does not
 * match its key's kind fails to compile.
 * Canonical text lists the keys in table order with reals as `%.17g`, so two
 * configs are the same job exactly when their canonical texts are equal.
 * Every key of the first version (since = 1) is always listed; a key added
 * later (since >= 2) is listed only when it differs from its default, so the
 * canonical text and hash of every config that leaves the new keys at their
 * defaults are those of the version that did not have them (tests/test_config.c
 * pins both to literal values of that version).  The text's parser
 * (config_parse_canonical) is here too: the store reads jobs back with it.
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

#define BIG 1e9

/* The key table, once: K(field, kind, choices, min, max, default, help, since).
 * A key is named as its config field, so the table gives both the public
 * rows (config_keys) and the field offsets that only this file uses. */
#define CONFIG_KEY_TABLE(K) \
    K(task, CK_ENUM, task_names, 0, 0, "romo", \
      "task: romo (parametric working memory), 2af (perceptual decision), dms (delayed match-to-sample)", 1) \
    K(rule, CK_ENUM, rule_names, 0, 0, "bptt", \
      "learning rule: bptt (exact), eprop (symmetric feedback), rflo (random feedback), readout (W_out, b_out only: the reservoir control)", 1) \
    K(gain, CK_REAL, NULL, 0, 1e3, "1", \
      "initial recurrent gain g: bulk spectral radius of W_rec (gaussian: W_rec ~ N(0, g^2/N))", 1) \
    K(init, CK_ENUM, init_names, 0, 0, "gaussian", \
      "W_rec family, bulk spectral radius ~ g: gaussian, orthogonal, sparse, dale, lowrank", 2) \
    K(gain_norm, CK_ENUM, gain_norm_names, 0, 0, "std", \
      "std: W_rec scaled by g as its family says; radius: rescaled to spectral radius g exactly", 2) \
    K(density, CK_REAL, NULL, 1e-6, 1, "0.1", \
      "init=sparse: probability of a nonzero entry; nonzeros ~ N(0, g^2/(density N))", 2) \
    K(frac_exc, CK_REAL, NULL, 0, 1, "0.8", \
      "init=dale: fraction of excitatory units (columns >= 0, the rest <= 0, rows sum to 0; signs kept in learning)", 2) \
    K(lowrank_rank, CK_INT, NULL, 1, 65536, "1", \
      "init=lowrank: rank R of W_rec = g chi + (lowrank_scale/N) sum_r m_r n_r^T", 2) \
    K(lowrank_scale, CK_REAL, NULL, 0, 1e6, "1", \
      "init=lowrank: scale of the structured part (lowrank_scale/N) sum_r m_r n_r^T", 2) \
    K(lr, CK_REAL, NULL, 1e-12, 1e3, "0.001", "Adam learning rate", 1) \
    K(seed, CK_INT, NULL, 0, 9007199254740991.0, "0", \
      "seed of initial weights, feedback matrix, Q0 and task batches", 1) \
    K(hidden, CK_INT, NULL, 1, 65536, "64", "number of hidden units N", 1) \
    K(batch, CK_INT, NULL, 1, 1e6, "32", "trials per batch B", 1) \
    K(iters, CK_INT, NULL, 0, BIG, "1000", "training iterations (Adam steps)", 1) \
    K(alpha, CK_REAL, NULL, 0, 1, "0", \
      "leak dt/tau in (0,1]; 0 = the task's default (0.5)", 1) \
    K(activation, CK_ENUM, act_names, 0, 0, "tanh", "activation f: tanh or relu", 1) \
    K(log_every, CK_INT, NULL, 1, BIG, "10", \
      "learning-curve row every this many iterations (and at 0 and the last)", 1) \
    K(floss_iters, CK_INT, NULL, 0, BIG, "0", \
      "gradient-flossing pretraining steps before training (0 = off; the study used 100)", 1) \
    K(floss_lr, CK_REAL, NULL, 1e-12, 1e3, "0.001", "Adam learning rate for flossing", 1) \
    K(floss_k, CK_INT, NULL, 1, 65536, "1", "number of Lyapunov exponents flossed (toward floss_target)", 1) \
    K(floss_mode, CK_ENUM, floss_mode_names, 0, 0, "full", \
      "flossing gradient: full (exact), local (h and Q frozen per step), detach_h (h frozen, through Q)", 1) \
    K(floss_target, CK_REAL, NULL, -10, 10, "0", \
      "lambda*: flossing minimises mean (lambda - lambda*)^2 (0 = the study's edge of chaos)", 2) \
    K(floss_every, CK_INT, NULL, 0, BIG, "0", \
      "also floss once every this many training iterations (0 = off)", 1) \
    K(lyap_k, CK_INT, NULL, 1, 65536, "4", "number of Lyapunov exponents measured", 1) \
    K(lyap_warmup, CK_INT, NULL, 0, BIG, "0", \
      "QR steps discarded before exponents accumulate", 1) \
    K(lyap_every_qr, CK_INT, NULL, 1, BIG, "1", "QR every this many steps", 1) \
    K(lyap_every, CK_INT, NULL, 0, BIG, "0", \
      "also measure exponents every this many training iterations (0 = off)", 1) \
    K(diag_every, CK_INT, NULL, 0, BIG, "0", \
      "diagnostics every this many iterations, with 0 and the last (0 = off): gradient alignment with BPTT, weight drift", 2) \
    K(val_batch, CK_INT, NULL, 1, 1e7, "256", \
      "validation trials (the seed's own stream): choose the lr on them; a multiple of lyap_batch", 2) \
    K(test_batch, CK_INT, NULL, 1, 1e7, "1024", \
      "test trials (the seed's own stream): what figures and tables report; a multiple of lyap_batch", 2) \
    K(lyap_batch, CK_INT, NULL, 1, 1e6, "32", \
      "exponents are measured on the first lyap_batch validation trials (also the evaluation chunk)", 2)

#define PUBLIC_ROW(f, kind, choices, min, max, deflt, help, since) \
    {#f, kind, choices, min, max, deflt, help, since},
static const config_key keys[] = {CONFIG_KEY_TABLE(PUBLIC_ROW)};

#define OFFSET_ROW(f, ...) offsetof(config, f),
static const size_t offsets[] = {CONFIG_KEY_TABLE(OFFSET_ROW)};

/* Each field has the C type of its key's kind: int (enum), long, double. */
#define TYPE_CHECK(f, kind, ...) \
    _Static_assert(_Generic(((config *)0)->f, int: kind == CK_ENUM, long: kind == CK_INT, \
                            double: kind == CK_REAL, default: 0), "config." #f " has the wrong type");
CONFIG_KEY_TABLE(TYPE_CHECK)

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

config_value config_value_get(const config *c, int k)
{
    const char *field = (const char *)c + offsets[k];
    config_value v;
    switch (keys[k].kind) {
    case CK_ENUM: v.i = *(const int *)field; break;
    case CK_INT: v.l = *(const long *)field; break;
    default: v.d = *(const double *)field; break;
    }
    return v;
}

void config_value_set(config *c, int k, config_value v)
{
    char *field = (char *)c + offsets[k];
    switch (keys[k].kind) {
    case CK_ENUM: *(int *)field = v.i; break;
    case CK_INT: *(long *)field = v.l; break;
    default: *(double *)field = v.d; break;
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
        config_value_set(c, k, (config_value){.i = i});
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
        config_value_set(c, k, (config_value){.l = (long)d});
    else /* -0 is 0: one canonical text, one job */
        config_value_set(c, k, (config_value){.d = d == 0 ? 0.0 : d});
    return 0;
}

void config_get(const config *c, int k, char *buf, size_t n)
{
    const config_key *key = &keys[k];
    const config_value v = config_value_get(c, k);
    switch (key->kind) {
    case CK_ENUM: snprintf(buf, n, "%s", key->choices[v.i]); break;
    case CK_INT: snprintf(buf, n, "%ld", v.l); break;
    default: snprintf(buf, n, "%.17g", v.d); break;
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

int config_parse_canonical(const char *text, config *c, char err[CONFIG_ERRLEN])
{
    config_default(c);
    char line[256], why[CONFIG_ERRLEN];
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        size_t n = nl ? (size_t)(nl - text) : strlen(text);
        if (n >= sizeof line) {
            snprintf(err, CONFIG_ERRLEN, "line too long");
            return -1;
        }
        memcpy(line, text, n);
        line[n] = 0;
        text = nl ? nl + 1 : NULL;
        if (!*line)
            continue;
        char *eq = strchr(line, '=');
        if (!eq) {
            snprintf(err, CONFIG_ERRLEN, "line '%.200s' is not key=value", line);
            return -1;
        }
        *eq = 0;
        int k = config_key_find(line);
        if (k < 0) {
            snprintf(err, CONFIG_ERRLEN, "has key '%.64s' this rnnsweep does not know", line);
            return -1;
        }
        if (config_set(c, k, eq + 1, why) != 0) {
            snprintf(err, CONFIG_ERRLEN, "key '%.60s': %.180s", line, why);
            return -1;
        }
    }
    return 0;
}

uint64_t config_hash(const config *c)
{
    char buf[4096];
    size_t len = config_canonical(c, buf, sizeof buf);
    return text_fnv1a(buf, len < sizeof buf ? len : sizeof buf);
}
