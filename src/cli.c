/* cli.c — option parsing and help text for the rnnsweep commands.
 *
 * Long options only: `--name value` or `--name=value`; flags take no value.
 * Job options come from the config key table, so every config key is an
 * option with '-' for '_' and every option's help is the table's.
 */
#include "rnnsweep/cli.h"

#include <stdlib.h>
#include <string.h>

void cli_help(FILE *f, const cli_cmd *cmd)
{
    fprintf(f, "usage: %s\n\n%s\n", cmd->usage, cmd->about);
    if (cmd->nopts) {
        fprintf(f, "\noptions:\n");
        for (int i = 0; i < cmd->nopts; i++) {
            char left[64];
            snprintf(left, sizeof left, "--%s%s%s", cmd->opts[i].name, cmd->opts[i].arg ? " " : "",
                     cmd->opts[i].arg ? cmd->opts[i].arg : "");
            fprintf(f, "  %-24s %s\n", left, cmd->opts[i].help);
        }
    }
    if (cmd->with_job) {
        size_t n;
        const config_key *k = config_keys(&n);
        fprintf(f, "\njob options (sweep-file key in brackets; default after '='):\n");
        for (size_t i = 0; i < n; i++) {
            char left[64], opt[40];
            snprintf(opt, sizeof opt, "%s", k[i].name);
            for (char *p = opt; *p; p++)
                if (*p == '_')
                    *p = '-';
            snprintf(left, sizeof left, "--%s=%s", opt, k[i].deflt);
            fprintf(f, "  %-24s %s [%s]\n", left, k[i].help, k[i].name);
        }
    }
    fprintf(f, "\n  --help                   this text\n");
}

static cli_opt *find_opt(const cli_cmd *cmd, const char *name, size_t len)
{
    for (int i = 0; i < cmd->nopts; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return &cmd->opts[i];
    return NULL;
}

int cli_parse(const cli_cmd *cmd, int argc, char **argv, config *job, const char **positional)
{
    if (job)
        config_default(job);
    if (positional)
        *positional = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            cli_help(stdout, cmd);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (positional && !*positional) {
                *positional = a;
                continue;
            }
            fprintf(stderr, "rnnsweep %s: unexpected argument '%s' (see rnnsweep %s --help)\n",
                    cmd->name, a, cmd->name);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_opt *o = find_opt(cmd, name, len);
        char key[64];
        snprintf(key, sizeof key, "%.*s", (int)len, name);
        int k = (!o && job && len < sizeof key) ? config_key_find(key) : -1;
        if (!o && k < 0) {
            fprintf(stderr, "rnnsweep %s: unknown option --%.*s (see rnnsweep %s --help)\n",
                    cmd->name, (int)len, name, cmd->name);
            return -1;
        }
        const char *val = NULL;
        if (o && !o->arg) {
            if (eq) {
                fprintf(stderr, "rnnsweep %s: --%s takes no value\n", cmd->name, key);
                return -1;
            }
            o->value = "1";
            continue;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            fprintf(stderr, "rnnsweep %s: --%s needs a value\n", cmd->name, key);
            return -1;
        }
        if (o) {
            o->value = val;
            continue;
        }
        char err[CONFIG_ERRLEN];
        if (config_set(job, k, val, err) != 0) {
            fprintf(stderr, "rnnsweep %s: --%s: %s\n", cmd->name, key, err);
            return -1;
        }
    }
    return 0;
}

int cli_long(const cli_cmd *cmd, const cli_opt *o, long min, long max, long *out)
{
    char *end;
    long v = strtol(o->value, &end, 10);
    if (end == o->value || *end || v < min || v > max) {
        fprintf(stderr, "rnnsweep %s: --%s: '%s' must be an integer between %ld and %ld\n",
                cmd->name, o->name, o->value, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_real(const cli_cmd *cmd, const cli_opt *o, double min, double max, double *out)
{
    char *end;
    double v = strtod(o->value, &end);
    if (end == o->value || *end || !(v >= min && v <= max)) {
        fprintf(stderr, "rnnsweep %s: --%s: '%s' must be a number between %g and %g\n",
                cmd->name, o->name, o->value, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_resolve(const cli_cmd *cmd, config *job, long steps)
{
    char err[CONFIG_ERRLEN];
    if (config_resolve(job, steps, err) != 0) {
        for (char *p = err; *p && *p != ':'; p++)
            if (*p == '_')
                *p = '-';
        fprintf(stderr, "rnnsweep %s: --%s\n", cmd->name, err);
        return -1;
    }
    return 0;
}
