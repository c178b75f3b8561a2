/* sweep_int.h — what the sweep-file parser (sweep.c) and its value lists
 * (sweep_values.c) share; not a public header. */
#ifndef RNNSWEEP_SWEEP_INT_H
#define RNNSWEEP_SWEEP_INT_H

#include "rnnsweep/sweep.h"

#include <stddef.h>

#define SWEEP_MAX_JOBS 1000000UL

/* One parsed value of a key, in the field's own type. */
typedef config_value value;

/* One `key = value` line. */
typedef struct entry {
    int key;          /* index into config_keys() */
    int line;
    int section;      /* -1 = top level, else index into parse.sections */
    value *vals;      /* (nvals) */
    size_t nvals;
} entry;

typedef struct parse {
    const char *path;
    const char *text;
    size_t len, pos;  /* reader position */
    int lineno;       /* line the reader handed out last */
    int cursec;       /* section of that line: -1 = top level, else index into sections */
    int toolong;      /* line that did not fit inih's buffer, 0 = none */
    int cont;         /* entry an indented next line continues, -1 = none */
    char **sections;  /* (nsections) names in order of first appearance */
    size_t nsections;
    entry *e;         /* (ne) in file order */
    size_t ne, cap;
    int errline;      /* line of err, 0 = none */
    char err[SWEEP_ERRLEN];
} parse;

/* Record the first error ("PATH:LINE: msg"); returns 0 (inih's "handler
 * failed"), so a handler can `return sweep_perr(...)`. */
int sweep_perr(parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The name of key k. */
const char *sweep_key_name(int k);

/* Add the comma-separated items of s (one line's list; whole is the line's
 * value, for messages) to e: values, integer ranges a..b, linspace(a, b, n)
 * and logspace(a, b, n), each checked by config_set.  A trailing comma is
 * allowed only when the list continues on the next line (more = 1).
 * 0, or -1 after sweep_perr. */
int sweep_add_items(parse *p, entry *e, char *s, const char *whole, int more);

#endif
