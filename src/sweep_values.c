/* sweep_values.c — the values of one sweep-file key: a list `a, b, c`,
 * inclusive integer ranges `a..b`, linspace(a, b, n) and logspace(a, b, n),
 * each item parsed and checked by config_set (its bounds and messages), so a
 * value means in a sweep file exactly what it means on the command line.
 */
#include "sweep_int.h"

#include "textutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parse `item` for key k into v (via config_set: its checks and messages). */
static int item_value(parse *p, int k, const char *item, value *v)
{
    size_t nk;
    const config_key *key = &config_keys(&nk)[k];
    char err[CONFIG_ERRLEN];
    config c;
    config_default(&c);
    if (config_set(&c, k, item, err) != 0)
        return sweep_perr(p, p->lineno, "key '%s': %s", key->name, err), -1;
    *v = config_value_get(&c, k);
    return 0;
}

const char *sweep_key_name(int k)
{
    size_t nk;
    return config_keys(&nk)[k].name;
}

static int push_values(parse *p, entry *e, size_t more)
{
    if (e->nvals + more > SWEEP_MAX_JOBS) {
        sweep_perr(p, p->lineno, "key '%s': more than %lu values", sweep_key_name(e->key), SWEEP_MAX_JOBS);
        return -1;
    }
    value *nv = realloc(e->vals, (e->nvals + more) * sizeof *nv);
    if (!nv) {
        sweep_perr(p, p->lineno, "out of memory");
        return -1;
    }
    e->vals = nv;
    return 0;
}

/* linspace(a, b, n) / logspace(a, b, n): n values from a to b inclusive,
 * evenly spaced (a + i (b - a) / (n - 1)) or geometrically spaced
 * (a (b / a)^(i / (n - 1)), a and b > 0), the end values exactly a and b;
 * each value goes through config_set (bounds, integer keys: it must be an
 * integer).  Returns 0, 1 if item is not such a call, -1 after an error. */
static int add_spaced(parse *p, entry *e, const char *item)
{
    size_t nk;
    const config_key *key = &config_keys(&nk)[e->key];
    int geo;
    if (strncmp(item, "linspace(", 9) == 0)
        geo = 0;
    else if (strncmp(item, "logspace(", 9) == 0)
        geo = 1;
    else
        return 1;
    const char *fn = geo ? "logspace" : "linspace";
    double a, b;
    long n;
    char tail;
    if (sscanf(item + 9, "%lf ,%lf ,%ld )%c", &a, &b, &n, &tail) != 3 || item[strlen(item) - 1] != ')')
        return sweep_perr(p, p->lineno, "key '%s': '%s' is not %s(a, b, n)", key->name, item, fn), -1;
    if (key->kind == CK_ENUM)
        return sweep_perr(p, p->lineno, "key '%s': %s needs a numeric key", key->name, fn), -1;
    if (!isfinite(a) || !isfinite(b) || n < 2 || (unsigned long)n > SWEEP_MAX_JOBS)
        return sweep_perr(p, p->lineno, "key '%s': %s(a, b, n) needs finite a, b and 2 <= n <= %lu",
                    key->name, fn, SWEEP_MAX_JOBS), -1;
    if (geo && !(a > 0 && b > 0))
        return sweep_perr(p, p->lineno, "key '%s': logspace(a, b, n) needs a > 0 and b > 0", key->name), -1;
    if (push_values(p, e, (size_t)n))
        return -1;
    for (long i = 0; i < n; i++) {
        const double t = (double)i / (double)(n - 1);
        double v = i == 0 ? a : i == n - 1 ? b : geo ? a * exp(t * log(b / a)) : a + t * (b - a);
        char text[64];
        if (key->kind == CK_INT) {
            const double r = nearbyint(v);
            if (fabs(v - r) > 1e-9 * fmax(1.0, fabs(r)))
                return sweep_perr(p, p->lineno, "key '%s': %s gives %.17g, not an integer", key->name,
                            fn, v), -1;
            snprintf(text, sizeof text, "%.0f", r);
        } else {
            snprintf(text, sizeof text, "%.17g", v);
        }
        if (item_value(p, e->key, text, &e->vals[e->nvals]))
            return -1;
        e->nvals++;
    }
    return 0;
}

/* One list item: a value, linspace(a, b, n) or logspace(a, b, n), or for
 * integer keys an inclusive range a..b. */
static int add_item(parse *p, entry *e, char *item, const char *whole)
{
    size_t nk;
    const config_key *key = &config_keys(&nk)[e->key];
    item = text_trim(item);
    if (!*item)
        return sweep_perr(p, p->lineno, "key '%s': empty item in list '%s'", key->name, whole), -1;
    int sp = add_spaced(p, e, item);
    if (sp <= 0)
        return sp;
    char *dots = strstr(item, "..");
    if (!dots) {
        if (push_values(p, e, 1) || item_value(p, e->key, item, &e->vals[e->nvals]))
            return -1;
        e->nvals++;
        return 0;
    }
    if (key->kind != CK_INT)
        return sweep_perr(p, p->lineno, "key '%s': range '%s' needs an integer key; list the values",
                    key->name, item), -1;
    *dots = 0;
    char *a = text_trim(item), *b = text_trim(dots + 2);
    if (!*a || !*b)
        return sweep_perr(p, p->lineno, "key '%s': incomplete range '%s..%s'", key->name, a, b), -1;
    value va, vb;
    if (item_value(p, e->key, a, &va) || item_value(p, e->key, b, &vb))
        return -1;
    if (va.l > vb.l)
        return sweep_perr(p, p->lineno, "key '%s': reversed range %ld..%ld", key->name, va.l, vb.l), -1;
    if ((unsigned long)(vb.l - va.l) >= SWEEP_MAX_JOBS)
        return sweep_perr(p, p->lineno, "key '%s': range %ld..%ld has more than %lu values", key->name,
                    va.l, vb.l, SWEEP_MAX_JOBS), -1;
    if (push_values(p, e, (size_t)(vb.l - va.l) + 1))
        return -1;
    for (long v = va.l; v <= vb.l; v++)
        e->vals[e->nvals++].l = v;
    return 0;
}

/* The comma at depth 0 in s (commas inside linspace(...) do not split), or NULL. */
static char *list_comma(char *s)
{
    int depth = 0;
    for (; *s; s++) {
        if (*s == '(')
            depth++;
        else if (*s == ')' && depth > 0)
            depth--;
        else if (*s == ',' && depth == 0)
            return s;
    }
    return NULL;
}

/* Add the comma-separated items of s to e.  A trailing comma is allowed
 * only when the list continues on the next line (more = 1). */
int sweep_add_items(parse *p, entry *e, char *s, const char *whole, int more)
{
    int rc = 0;
    /* Split at commas by hand: strtok would merge empty items. */
    while (rc == 0 && s) {
        char *comma = list_comma(s);
        if (comma)
            *comma = 0;
        if (comma && more && !*text_trim(comma + 1))
            comma = NULL; /* "a, b," then the next line */
        rc = add_item(p, e, s, whole);
        s = comma ? comma + 1 : NULL;
    }
    return rc;
}

