/* test_config.c — the config identity is stable across versions of the key table.
 *
 * 1. The canonical text and hash of a default and of a non-default config
 *    equal literal values printed by the code of commit e9afea4, before the
 *    keys init, gain_norm, density, frac_exc, lowrank_rank, lowrank_scale and
 *    floss_target existed: adding keys left every existing job's hash alone.
 * 2. Each new key at a non-default value changes the hash and adds exactly
 *    its own line to the canonical text; a new key the job does not use
 *    (density of a gaussian job, floss_target without flossing) is reset by
 *    config_resolve and changes nothing.
 * 3. An old database (tests/data/v1_sweep.sql, the .dump of a database that
 *    commit e9afea4 made from tests/data/v1_sweep.ini) opened read-write
 *    gains one column per new key, filled with the key's default; adding the
 *    same sweep again adds no job (the hashes still match), its stored
 *    configs parse back to the same hashes, and a job with a new key is new.
 * Exits non-zero on any failure.
 */
#include "rnnsweep/config.h"
#include "rnnsweep/store.h"
#include "rnnsweep/sweep.h"

#include <sqlite3.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"

/* Printed by commit e9afea4: config_default + config_resolve(c, 0). */
static const char default_text[] =
    "task=romo\nrule=bptt\ngain=1\nlr=0.001\nseed=0\nhidden=64\nbatch=32\niters=1000\n"
    "alpha=0.5\nactivation=tanh\nlog_every=10\nfloss_iters=0\nfloss_lr=0.001\nfloss_k=1\n"
    "floss_mode=full\nfloss_every=0\nlyap_k=4\nlyap_warmup=0\nlyap_every_qr=1\nlyap_every=0\n";
static const uint64_t default_hash = 0x002d0d3550f072aaULL;

/* The same for task=2af rule=eprop gain=1.5 lr=0.003 seed=7 hidden=32
 * floss_iters=100 floss_mode=local activation=relu lyap_k=8. */
static const char *const nondefault_kv[][2] = {
    {"task", "2af"}, {"rule", "eprop"}, {"gain", "1.5"}, {"lr", "0.003"},
    {"seed", "7"}, {"hidden", "32"}, {"floss_iters", "100"}, {"floss_mode", "local"},
    {"activation", "relu"}, {"lyap_k", "8"}};
static const char nondefault_text[] =
    "task=2af\nrule=eprop\ngain=1.5\nlr=0.0030000000000000001\nseed=7\nhidden=32\nbatch=32\n"
    "iters=1000\nalpha=0.5\nactivation=relu\nlog_every=10\nfloss_iters=100\nfloss_lr=0.001\n"
    "floss_k=1\nfloss_mode=local\nfloss_every=0\nlyap_k=8\nlyap_warmup=0\nlyap_every_qr=1\n"
    "lyap_every=0\n";
static const uint64_t nondefault_hash = 0x8e0318372ce5cb1aULL;

static void set(config *c, const char *key, const char *value)
{
    char err[CONFIG_ERRLEN];
    if (config_set(c, config_key_find(key), value, err) != 0)
        check_true(0, "config_set", "%s=%s: %s", key, value, err);
}

static int resolve(config *c)
{
    char err[CONFIG_ERRLEN];
    if (config_resolve(c, 0, err) != 0) {
        printf("     config_resolve: %s\n", err);
        return -1;
    }
    return 0;
}

static void pinned(const char *what, config *c, const char *text, uint64_t hash)
{
    char buf[4096], line[160];
    resolve(c);
    config_canonical(c, buf, sizeof buf);
    snprintf(line, sizeof line, "%s: canonical text == that of e9afea4", what);
    check(line, strcmp(buf, text) == 0 ? 0.0 : 1.0, 0.0);
    if (strcmp(buf, text) != 0)
        printf("     got:\n%s", buf);
    snprintf(line, sizeof line, "%s: hash %016" PRIx64 " == %016" PRIx64, what, config_hash(c), hash);
    check(line, config_hash(c) == hash ? 0.0 : 1.0, 0.0);
}

/* One new key at a non-default value: the hash changes and the canonical
 * text is the base text plus exactly the line `expect`.  `with` are keys
 * the new key needs to be used (init=sparse for density, ...). */
static void new_key(const char *key, const char *value, const char *with_k, const char *with_v,
                    const char *expect)
{
    config base, c;
    char bt[4096], ct[4096], line[160];
    config_default(&base);
    if (with_k)
        set(&base, with_k, with_v);
    resolve(&base);
    c = base;
    set(&c, key, value);
    const int ok = resolve(&c) == 0;
    config_canonical(&base, bt, sizeof bt);
    config_canonical(&c, ct, sizeof ct);
    /* remove the one line `expect` from ct: what is left must be bt */
    char *at = strstr(ct, expect);
    int same_rest = 0;
    if (at && (at == ct || at[-1] == '\n')) {
        memmove(at, at + strlen(expect), strlen(at + strlen(expect)) + 1);
        same_rest = strcmp(ct, bt) == 0;
    }
    snprintf(line, sizeof line, "%s=%s%s%s%s: new hash, text + '%.*s'", key, value,
             with_k ? " (" : "", with_k ? with_k : "", with_k ? ")" : "",
             (int)strlen(expect) - 1, expect);
    check(line, ok && config_hash(&c) != config_hash(&base) && same_rest ? 0.0 : 1.0, 0.0);
}

/* A new key the job does not use is reset: same hash as without it. */
static void unused_key(const char *key, const char *value, const char *with_k, const char *with_v)
{
    config base, c;
    char line[160];
    config_default(&base);
    if (with_k)
        set(&base, with_k, with_v);
    c = base;
    set(&c, key, value);
    resolve(&base);
    resolve(&c);
    snprintf(line, sizeof line, "%s=%s unused%s%s%s: same hash as the default", key, value,
             with_k ? " (" : "", with_k ? with_k : "", with_k ? ")" : "");
    check(line, config_hash(&c) == config_hash(&base) ? 0.0 : 1.0, 0.0);
}

static int sql_int(sqlite3 *db, const char *sql, long long *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st) == SQLITE_ROW ? 0 : -1;
    if (!rc)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s)
        s[n] = 0;
    fclose(f);
    return s;
}

static void old_database(const char *sql_path, const char *ini_path)
{
    char dir[] = "/tmp/rnnsweep-config-XXXXXX", db[128], err[STORE_ERRLEN];
    if (!mkdtemp(dir)) {
        check("old database: temporary directory", 1.0, 0.0);
        return;
    }
    snprintf(db, sizeof db, "%s/v1.db", dir);
    char *sql = slurp(sql_path);
    sqlite3 *raw = NULL;
    int ok = sql && sqlite3_open(db, &raw) == SQLITE_OK &&
             sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close(raw);
    free(sql);
    check("old database: made from tests/data/v1_sweep.sql", ok ? 0.0 : 1.0, 0.0);
    if (!ok)
        return;

    store *s = NULL;
    int rc = store_open(&s, db, 0, err);
    check("old database: store_open read-write", rc == STORE_OK ? 0.0 : 1.0, 0.0);
    if (rc != STORE_OK) {
        printf("     %s\n", err);
        return;
    }
    sweep *sw = sweep_load(ini_path, err);
    size_t added = 99;
    long sweep_id = 0;
    rc = sw ? store_add_sweep(s, ini_path, sweep_text(sw), sweep_hash(sw), sweep_job(sw, 0),
                              sweep_count(sw), &sweep_id, &added)
            : -1;
    char line[160];
    snprintf(line, sizeof line, "old database: the same sweep again adds %zu jobs (want 0)", added);
    check(line, rc == STORE_OK && sweep_count(sw) == 4 && added == 0 ? 0.0 : 1.0, 0.0);
    /* stored configs parse back to the hash they are stored under */
    int hashes_ok = 1;
    for (long id = 1; id <= 4; id++) {
        config c;
        int st;
        if (store_job_config(s, id, &c, &st) != STORE_OK || st != JOB_DONE) {
            hashes_ok = 0;
            continue;
        }
        int found = 0;
        for (size_t i = 0; i < sweep_count(sw); i++)
            found |= config_hash(sweep_job(sw, i)) == config_hash(&c);
        hashes_ok &= found;
    }
    check("old database: its 4 done jobs parse back to the sweep's hashes", hashes_ok ? 0.0 : 1.0, 0.0);
    config nc = *sweep_job(sw, 0);
    set(&nc, "init", "dale");
    resolve(&nc);
    rc = store_add_sweep(s, "new.ini", "init = dale\n", 42, &nc, 1, &sweep_id, &added);
    check("old database: a job with init=dale is new", rc == STORE_OK && added == 1 ? 0.0 : 1.0, 0.0);
    sweep_free(sw);
    store_close(s);

    sqlite3_open_v2(db, &raw, SQLITE_OPEN_READONLY, NULL);
    static const char *const q[][2] = {
        {"init", "SELECT count(*) FROM jobs WHERE id <= 4 AND init = 'gaussian'"},
        {"gain_norm", "SELECT count(*) FROM jobs WHERE id <= 4 AND gain_norm = 'std'"},
        {"density", "SELECT count(*) FROM jobs WHERE id <= 4 AND density = 0.1"},
        {"frac_exc", "SELECT count(*) FROM jobs WHERE id <= 4 AND frac_exc = 0.8"},
        {"lowrank_rank", "SELECT count(*) FROM jobs WHERE id <= 4 AND lowrank_rank = 1"},
        {"lowrank_scale", "SELECT count(*) FROM jobs WHERE id <= 4 AND lowrank_scale = 1"},
        {"floss_target", "SELECT count(*) FROM jobs WHERE id <= 4 AND floss_target = 0"},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        long long n = -1;
        sql_int(raw, q[i][1], &n);
        snprintf(line, sizeof line, "old database: column %s added, old jobs at its default (%lld/4)",
                 q[i][0], n);
        check(line, n == 4 ? 0.0 : 1.0, 0.0);
    }
    long long n = -1;
    sql_int(raw, "SELECT count(*) FROM jobs WHERE id = 5 AND init = 'dale'", &n);
    check("old database: the new job's init column is 'dale'", n == 1 ? 0.0 : 1.0, 0.0);
    sqlite3_close(raw);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("     (could not remove %s)\n", dir);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_config tests/data/v1_sweep.sql tests/data/v1_sweep.ini\n");
        return 2;
    }
    config c;
    config_default(&c);
    pinned("default config", &c, default_text, default_hash);
    config_default(&c);
    for (size_t i = 0; i < sizeof nondefault_kv / sizeof nondefault_kv[0]; i++)
        set(&c, nondefault_kv[i][0], nondefault_kv[i][1]);
    pinned("non-default config", &c, nondefault_text, nondefault_hash);
    /* the new keys at their defaults, written out, change nothing */
    config_default(&c);
    set(&c, "init", "gaussian");
    set(&c, "gain_norm", "std");
    set(&c, "floss_target", "0");
    pinned("new keys set to their defaults", &c, default_text, default_hash);

    new_key("init", "orthogonal", NULL, NULL, "init=orthogonal\n");
    new_key("init", "dale", NULL, NULL, "init=dale\n");
    new_key("gain_norm", "radius", NULL, NULL, "gain_norm=radius\n");
    new_key("density", "0.25", "init", "sparse", "density=0.25\n");
    new_key("frac_exc", "0.5", "init", "dale", "frac_exc=0.5\n");
    new_key("lowrank_rank", "3", "init", "lowrank", "lowrank_rank=3\n");
    new_key("lowrank_scale", "4", "init", "lowrank", "lowrank_scale=4\n");
    new_key("floss_target", "-0.2", "floss_iters", "10", "floss_target=-0.20000000000000001\n");
    unused_key("density", "0.3", NULL, NULL);
    unused_key("frac_exc", "0.5", "init", "sparse");
    unused_key("lowrank_rank", "2", "init", "orthogonal");
    unused_key("lowrank_scale", "2", NULL, NULL);
    unused_key("floss_target", "0.1", NULL, NULL);
    {
        config d;
        config_default(&d);
        set(&d, "init", "dale");
        set(&d, "frac_exc", "0.999");
        check("dale with no inhibitory unit is refused by config_resolve",
              resolve(&d) != 0 ? 0.0 : 1.0, 0.0);
        config_default(&d);
        set(&d, "init", "lowrank");
        set(&d, "lowrank_rank", "65");
        check("lowrank_rank > hidden is refused by config_resolve", resolve(&d) != 0 ? 0.0 : 1.0, 0.0);
    }
    old_database(argv[1], argv[2]);
    return check_summary("test_config");
}
