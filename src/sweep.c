/* sweep.c — sweep files: INI text -> a deduplicated grid of resolved job configs.
 *
 * The file is read whole (at most SWEEP_MAX_BYTES; a regular file only) and
 * screened before inih sees it (sweeptext.c): a NUL byte, a control byte
 * other than tab/CR/LF or invalid UTF-8 means a binary file, and a line of
 * more than LINE_MAX_CHARS characters, not counting its line end, is
 * refused.  Section headers are read by us first (scan_headers), so that a
 * section without keys still counts and a name over SECTION_MAX_CHARS
 * characters is refused: inih would cut it to 49 bytes and so make a
 * phantom section.  inih then parses the text through our own line reader,
 * which counts lines (so the handler knows where it is) and hands inih only
 * what it parses, so inih's 200-byte line buffer never cuts a line: no line
 * end, BOM or leading blanks (so no line is ever taken as an inih multi-line
 * continuation; an indented stray value is a malformed line instead), only
 * the prefix of a comment line, `[name]` of a header, and a `key = value`
 * line up to its comment.  The handler takes the section from the reader,
 * never inih's truncated copy.  Keys and values are ASCII; non-ASCII text
 * may stand only in comments and section names.
 *
 * Each `key = value` becomes an entry: the key's index in the config key
 * table and its values, parsed once (a list `a, b, c` and inclusive integer
 * ranges `a..b`, also inside lists; `# comment` is cut from values).  Top-level
 * entries apply to every section; a section's own entry for the same key
 * replaces the top-level one.  Sections with the same name are one section.
 *
 * Order of the jobs (deterministic): sections in order of first appearance
 * (the top level alone when there are none); within a grid the keys vary like
 * nested loops in file order — top-level keys first, then the section's —
 * the LAST key varying fastest.  A config already produced (same
 * config_hash) is dropped where it reappears.  Grids are capped at
 * SWEEP_MAX_JOBS configs before merging (1e6 configs is ~150 MB).
 */
#include "rnnsweep/sweep.h"

#include <ini.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sweeptext.h"
#include "sweep_int.h"
#include "textutil.h"

#define SWEEP_MAX_BYTES (16L << 20)
/* inih's line buffer (INI_MAX_LINE bytes) less its NUL: the reader hands
 * inih at most this many bytes of a line, and what it hands of a line of at
 * most this many characters is ASCII or a header of SECTION_MAX_CHARS. */
#define LINE_MAX_CHARS (INI_MAX_LINE - 1)
/* inih's MAX_SECTION (50) less its NUL. */
#define SECTION_MAX_CHARS 49

struct sweep {
    char *text;       /* the file as read, NUL-terminated */
    size_t len;
    uint64_t hash;    /* FNV-1a 64 of text[0..len) */
    config *jobs;     /* (n) resolved, distinct */
    size_t n;
};

/* Write the first error only; returns 0 (inih's "handler failed"). */
int sweep_perr(parse *p, int line, const char *fmt, ...)
{
    if (p->errline)
        return 0;
    va_list ap;
    char msg[SWEEP_ERRLEN - 128];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->errline = line;
    snprintf(p->err, sizeof p->err, "%s:%d: %s", p->path, line, msg);
    return 0;
}

static int section_index(parse *p, const char *name, size_t n);
static int is_continuation(const char *s, size_t n);
static void continue_list(parse *p, const char *s, size_t n);

/* The part of a line (s[0..*n), line end removed) that inih reads: without a
 * BOM on line 1 and without leading blanks (inih's isspace). */
static const char *line_body(const char *s, size_t *n, int line)
{
    if (line == 1 && *n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0) {
        s += 3;
        *n -= 3;
    }
    while (*n && isspace((unsigned char)*s)) {
        s++;
        --*n;
    }
    return s;
}

/* If the body s[0..n) is a section header `[name]...`: name's start, and its
 * length in *len; else NULL. */
static const char *header_name(const char *s, size_t n, size_t *len)
{
    const char *close = n && *s == '[' ? memchr(s, ']', n) : NULL;
    if (!close)
        return NULL;
    *len = (size_t)(close - s - 1);
    return s + 1;
}

/* How much of the body s[0..n) of line p->lineno inih gets: the prefix of a
 * comment, `[name]` of a header (or `[` alone when there is no `]`, which inih
 * reports), a key line up to its comment (`;` after a blank, as inih cuts it,
 * or `#` after the `=`/`:`, as the handler does).  Sets p->cursec. */
static size_t inih_part(parse *p, const char *s, size_t n)
{
    size_t len;
    if (n == 0 || *s == ';' || *s == '#')
        return n ? 1 : 0;
    if (*s == '[') {
        const char *name = header_name(s, n, &len);
        if (name && (p->cursec = section_index(p, name, len)) < 0)
            sweep_perr(p, p->lineno, "out of memory");
        return name ? len + 2 : 1;
    }
    size_t end = n;
    for (size_t i = 1; i < n; i++)
        if (s[i] == ';' && isspace((unsigned char)s[i - 1])) {
            end = i;
            break;
        }
    const char *sep = NULL;
    for (size_t i = 0; i < end && !sep; i++)
        if (s[i] == '=' || s[i] == ':')
            sep = s + i;
    const char *hash = sep ? memchr(sep, '#', end - (size_t)(sep - s)) : NULL;
    if (hash)
        end = (size_t)(hash - s);
    for (size_t i = 0; i < end; i++)
        if ((unsigned char)s[i] >= 0x80) {
            sweep_perr(p, p->lineno, "non-ASCII character in a key or value (it may stand only in "
                               "comments and section names)");
            return 0; /* the error is recorded; inih gets a blank line */
        }
    return end;
}

/* inih line reader over p->text: one line per call, what inih_part keeps of
 * it; counts lines. */
static char *reader(char *str, int num, void *stream)
{
    parse *p = stream;
    if (p->pos >= p->len)
        return NULL;
    size_t n;
    const char *s = sweeptext_line(p->text, p->len, &p->pos, &n);
    if (p->cont >= 0 && is_continuation(s, n)) {
        ++p->lineno;
        s = line_body(s, &n, p->lineno);
        continue_list(p, s, n);
        str[0] = 0;
        return str;
    }
    s = line_body(s, &n, ++p->lineno);
    n = inih_part(p, s, n);
    p->cont = -1; /* only the key line right above (or a continuation) opens a list */
    if (n + 1 > (size_t)num) {
        /* Cannot happen with inih's 200 bytes (see LINE_MAX_CHARS); never cut silently. */
        if (!p->toolong)
            p->toolong = p->lineno;
        n = (size_t)num - 1;
    }
    memcpy(str, s, n);
    str[n] = 0;
    return str;
}

/* Index of the section name[0..n), added if new; -1 if out of memory. */
static int section_index(parse *p, const char *name, size_t n)
{
    for (size_t i = 0; i < p->nsections; i++)
        if (strlen(p->sections[i]) == n && memcmp(p->sections[i], name, n) == 0)
            return (int)i;
    char **ns = realloc(p->sections, (p->nsections + 1) * sizeof *ns);
    if (!ns)
        return -1;
    p->sections = ns;
    if (!(ns[p->nsections] = strndup(name, n)))
        return -1;
    return (int)p->nsections++;
}

/* Is s[0..n) a continuation line: it starts with a blank, has text, and is
 * not a comment, a header or a `key = value` line? */
static int is_continuation(const char *s, size_t n)
{
    if (!n || (*s != ' ' && *s != '\t') || memchr(s, '=', n) || memchr(s, ':', n))
        return 0;
    while (n && isspace((unsigned char)*s))
        s++, n--;
    return n && *s != '#' && *s != ';' && *s != '[';
}

static int continued(const parse *p)
{
    size_t pos = p->pos, n;
    if (pos >= p->len)
        return 0;
    const char *s = sweeptext_line(p->text, p->len, &pos, &n);
    return is_continuation(s, n);
}

/* An indented line without '=' or ':' right after a key line (or after
 * another such line) continues that key's list: its items (a comment cut)
 * are added to the entry here, and inih gets a blank line.  An indented
 * `key = value` line stays a key line, as in every INI reader. */
static void continue_list(parse *p, const char *s, size_t n)
{
    if (p->errline)
        return;
    entry *e = &p->e[p->cont];
    char *v = strndup(s, n);
    if (!v) {
        sweep_perr(p, p->lineno, "out of memory");
        return;
    }
    char *hash = strchr(v, '#');
    if (hash)
        *hash = 0;
    for (char *c = v; *c; c++)
        if (*c == ';' && c > v && isspace((unsigned char)c[-1])) {
            *c = 0;
            break;
        }
    char *t = text_trim(v);
    for (const char *c = t; *c; c++)
        if ((unsigned char)*c >= 0x80) {
            sweep_perr(p, p->lineno, "non-ASCII character in a key or value (it may stand only in "
                               "comments and section names)");
            free(v);
            return;
        }
    char *whole = strdup(t);
    if (!whole)
        sweep_perr(p, p->lineno, "out of memory");
    else
        sweep_add_items(p, e, t, whole, continued(p));
    free(whole);
    free(v);
}

/* inih handler: one `name = value` on line p->lineno, in section p->cursec
 * (inih's `section` may be cut to 49 bytes; it is not used). */
static int handler(void *user, const char *section, const char *name, const char *value_text)
{
    parse *p = user;
    (void)section;
    if (p->errline)
        return 1;  /* keep the first error; inih already knows its line */
    int line = p->lineno;
    int k = config_key_find(name);
    if (k < 0)
        return sweep_perr(p, line, "unknown key '%s'", name);
    size_t nk;
    const config_key *key = &config_keys(&nk)[k];
    int sec = p->cursec;
    for (size_t i = 0; i < p->ne; i++)
        if (p->e[i].key == k && p->e[i].section == sec)
            return sweep_perr(p, line, "key '%s' repeated (first set on line %d)", key->name,
                        p->e[i].line);
    if (p->ne == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        entry *ne = realloc(p->e, cap * sizeof *ne);
        if (!ne)
            return sweep_perr(p, line, "out of memory");
        p->e = ne;
        p->cap = cap;
    }
    entry *e = &p->e[p->ne++];
    *e = (entry){.key = k, .line = line, .section = sec};

    /* Comments were cut by the reader (`#`) and inih (`;`). */
    char *v = strdup(value_text), *whole = NULL;
    if (!v || !(whole = strdup(value_text))) {
        free(v);
        return sweep_perr(p, line, "out of memory");
    }
    char *s = text_trim(v);
    snprintf(whole, strlen(value_text) + 1, "%s", s);
    int rc = *s ? 0 : (sweep_perr(p, line, "key '%s': empty value", key->name), -1);
    if (rc == 0)
        rc = sweep_add_items(p, e, s, whole, continued(p));
    free(whole);
    free(v);
    if (rc == 0)
        p->cont = (int)(p->ne - 1); /* an indented next line continues this list */
    return rc == 0;
}

/* Section names from the headers themselves, so that a section without keys
 * still counts (its grid is the top level's); empty and over-long names, and
 * text after the ']' other than a comment, are refused. */
static int scan_headers(parse *p)
{
    size_t pos = 0, n, len;
    for (int line = 1; pos < p->len; line++) {
        const char *s = sweeptext_line(p->text, p->len, &pos, &n);
        s = line_body(s, &n, line);
        const char *name = header_name(s, n, &len);
        if (!name)
            continue;
        if (len == 0)
            return sweep_perr(p, line, "empty section name"), -1;
        size_t chars = sweeptext_chars(name, len);
        if (chars > SECTION_MAX_CHARS)
            return sweep_perr(p, line, "section name of %zu characters is longer than the %d allowed",
                        chars, SECTION_MAX_CHARS), -1;
        /* inih ignores whatever follows the ']': only a comment may. */
        const char *rest = name + len + 1, *end = s + n;
        while (rest < end && isspace((unsigned char)*rest))
            rest++;
        if (rest < end && *rest != '#' && *rest != ';')
            return sweep_perr(p, line, "text after the section header (only a comment may follow ']')"), -1;
        if (section_index(p, name, len) < 0)
            return sweep_perr(p, line, "out of memory"), -1;
    }
    return 0;
}

/* Does line `line` start with '['?  (For choosing a malformed-line message.) */
static int line_is_header(const char *text, size_t len, int line)
{
    size_t pos = 0, n = 0;
    const char *s = text;
    for (int l = 1; l <= line && pos < len; l++)
        s = sweeptext_line(text, len, &pos, &n);
    s = line_body(s, &n, line);
    return n && *s == '[';
}

static void set_value(config *c, int k, const value *v)
{
    config_value_set(c, k, *v);
}

/* Set of config hashes (open addressing; 0 marks an empty slot, so hash 0
 * is kept aside in has_zero). */
typedef struct hashset { uint64_t *slot; size_t mask; int has_zero; } hashset;

static int hashset_init(hashset *h, size_t n)
{
    size_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    h->slot = calloc(cap, sizeof *h->slot);
    h->mask = cap - 1;
    h->has_zero = 0;
    return h->slot ? 0 : -1;
}

/* 1 if x was new (and is now in), 0 if already present. */
static int hashset_add(hashset *h, uint64_t x)
{
    if (x == 0) {
        int was = h->has_zero;
        h->has_zero = 1;
        return !was;
    }
    for (size_t i = (size_t)(x ^ (x >> 29)) & h->mask;; i = (i + 1) & h->mask) {
        if (h->slot[i] == x)
            return 0;
        if (h->slot[i] == 0) {
            h->slot[i] = x;
            return 1;
        }
    }
}

/* Is `word` in msg as a whole word? */
static int has_word(const char *msg, const char *word)
{
    size_t n = strlen(word);
    for (const char *s = strstr(msg, word); s; s = strstr(s + 1, word)) {
        int left = s == msg || !(isalnum((unsigned char)s[-1]) || s[-1] == '_');
        int right = !(isalnum((unsigned char)s[n]) || s[n] == '_');
        if (left && right)
            return 1;
    }
    return 0;
}

/* "FILE[:LINE]: job (k=v, ...): msg" for a config that config_resolve
 * rejected; LINE is that of the key at fault (or another key the message
 * names) where the file sets it. */
static void resolve_error(parse *p, entry *const *axes, size_t naxes, const config *c,
                          const char *msg)
{
    size_t nk;
    const config_key *keys = config_keys(&nk);
    char job[SWEEP_ERRLEN] = "", v[64];
    for (size_t a = 0; a < naxes; a++) {
        size_t l = strlen(job);
        config_get(c, axes[a]->key, v, sizeof v);
        snprintf(job + l, sizeof job - l, "%s%s=%s", a ? ", " : "", keys[axes[a]->key].name, v);
    }
    int line = 0;
    const char *colon = strchr(msg, ':');
    if (colon) {
        char bad[64];
        size_t n = (size_t)(colon - msg) < sizeof bad - 1 ? (size_t)(colon - msg) : sizeof bad - 1;
        memcpy(bad, msg, n);
        bad[n] = 0;
        int k = config_key_find(bad);
        for (size_t a = 0; a < naxes && !line; a++)
            if (axes[a]->key == k)
                line = axes[a]->line;
    }
    for (size_t a = 0; a < naxes && !line; a++)
        if (has_word(msg, keys[axes[a]->key].name))
            line = axes[a]->line;
    if (line)
        snprintf(p->err, sizeof p->err, "%.150s:%d: job (%.200s): %.140s", p->path, line, job, msg);
    else
        snprintf(p->err, sizeof p->err, "%.150s: job (%.200s): %.140s", p->path, job, msg);
    p->errline = line ? line : -1;
}

/* The axes of section sec (-1 = top level alone): top-level entries not
 * overridden, then the section's, in file order.  Returns the count. */
static size_t section_axes(const parse *p, int sec, entry **axes)
{
    size_t n = 0;
    for (size_t i = 0; i < p->ne; i++) {
        const entry *e = &p->e[i];
        if (e->section != -1)
            continue;
        int overridden = 0;
        for (size_t j = 0; j < p->ne && sec >= 0; j++)
            if (p->e[j].section == sec && p->e[j].key == e->key)
                overridden = 1;
        if (!overridden)
            axes[n++] = (entry *)e;
    }
    for (size_t i = 0; i < p->ne && sec >= 0; i++)
        if (p->e[i].section == sec)
            axes[n++] = &p->e[i];
    return n;
}

/* Expand every grid into s->jobs, merging duplicates.  0 or -1 with p->err. */
static int expand(parse *p, sweep *s)
{
    size_t nsec = p->nsections ? p->nsections : 1;
    entry **axes = malloc((p->ne + 1) * sizeof *axes);
    size_t *odo = malloc((p->ne + 1) * sizeof *odo);
    hashset seen = {0};
    int rc = -1;
    if (!axes || !odo) {
        snprintf(p->err, sizeof p->err, "%s: out of memory", p->path);
        goto done;
    }
    /* Total size first, so an oversized grid is refused before any work. */
    size_t total = 0;
    for (size_t si = 0; si < nsec; si++) {
        size_t na = section_axes(p, p->nsections ? (int)si : -1, axes), prod = 1;
        for (size_t a = 0; a < na && prod <= SWEEP_MAX_JOBS; a++)
            prod = axes[a]->nvals > SWEEP_MAX_JOBS ? SWEEP_MAX_JOBS + 1 : prod * axes[a]->nvals;
        total += prod;
        if (total > SWEEP_MAX_JOBS) {
            snprintf(p->err, sizeof p->err,
                     "%s: the grid has more than %lu jobs; split the sweep into several files",
                     p->path, SWEEP_MAX_JOBS);
            goto done;
        }
    }
    s->jobs = malloc(total * sizeof *s->jobs);
    if (!s->jobs || hashset_init(&seen, total)) {
        snprintf(p->err, sizeof p->err, "%s: out of memory for %zu jobs", p->path, total);
        goto done;
    }
    for (size_t si = 0; si < nsec; si++) {
        size_t na = section_axes(p, p->nsections ? (int)si : -1, axes);
        memset(odo, 0, na * sizeof *odo);
        for (;;) {
            config c;
            char err[CONFIG_ERRLEN];
            config_default(&c);
            for (size_t a = 0; a < na; a++)
                set_value(&c, axes[a]->key, &axes[a]->vals[odo[a]]);
            config unresolved = c;
            if (config_resolve(&c, 0, err) != 0) {
                resolve_error(p, axes, na, &unresolved, err);
                goto done;
            }
            if (hashset_add(&seen, config_hash(&c)))
                s->jobs[s->n++] = c;
            /* Odometer: the last axis varies fastest. */
            size_t a = na;
            while (a > 0 && ++odo[a - 1] == axes[a - 1]->nvals)
                odo[--a] = 0;
            if (a == 0)
                break;
        }
    }
    rc = 0;
done:
    free(seen.slot);
    free(odo);
    free(axes);
    return rc;
}

static void parse_free(parse *p)
{
    for (size_t i = 0; i < p->ne; i++)
        free(p->e[i].vals);
    free(p->e);
    for (size_t i = 0; i < p->nsections; i++)
        free(p->sections[i]);
    free(p->sections);
}

sweep *sweep_load(const char *path, char err[SWEEP_ERRLEN])
{
    parse p = {.path = path, .cursec = -1, .cont = -1};
    sweep *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, SWEEP_ERRLEN, "%s: out of memory", path);
        return NULL;
    }
    if (!(s->text = sweeptext_read(path, SWEEP_MAX_BYTES, &s->len, err, SWEEP_ERRLEN)))
        goto fail;
    s->hash = text_fnv1a(s->text, s->len);

    unsigned bad;
    int line;
    size_t chars;
    if (sweeptext_screen(s->text, s->len, &bad, &line) != 0) {
        snprintf(err, SWEEP_ERRLEN, "%s: binary file, not a sweep file (byte 0x%02x on line %d)",
                 path, bad, line);
        goto fail;
    }
    if ((line = sweeptext_first_long_line(s->text, s->len, LINE_MAX_CHARS, &chars)) != 0) {
        snprintf(err, SWEEP_ERRLEN, "%s:%d: line of %zu characters is longer than the %d allowed "
                 "(not counting the line end)", path, line, chars, LINE_MAX_CHARS);
        goto fail;
    }
    p.text = s->text;
    p.len = s->len;
    if (scan_headers(&p) != 0) {
        snprintf(err, SWEEP_ERRLEN, "%s", p.err);
        goto fail;
    }
    int at = ini_parse_stream(reader, &p, handler, &p);
    if (p.toolong) {
        snprintf(err, SWEEP_ERRLEN, "%s:%d: line does not fit inih's line buffer", path,
                 p.toolong);
        goto fail;
    }
    if (at != 0 && (p.errline == 0 || at < p.errline)) {
        /* inih's own error: a line that is neither key = value nor [section]. */
        snprintf(err, SWEEP_ERRLEN, "%s:%d: %s", path, at,
                 at < 0 ? "cannot parse (out of memory)"
                 : line_is_header(s->text, s->len, at) ? "malformed section header (expected [name])"
                                                       : "malformed line (expected key = value)");
        goto fail;
    }
    if (p.errline) {
        snprintf(err, SWEEP_ERRLEN, "%s", p.err);
        goto fail;
    }
    if (p.ne == 0) {
        snprintf(err, SWEEP_ERRLEN, "%s: no jobs: the file sets no keys", path);
        goto fail;
    }
    if (expand(&p, s) != 0) {
        snprintf(err, SWEEP_ERRLEN, "%s", p.err);
        goto fail;
    }
    parse_free(&p);
    return s;
fail:
    parse_free(&p);
    sweep_free(s);
    return NULL;
}

void sweep_free(sweep *s)
{
    if (!s)
        return;
    free(s->text);
    free(s->jobs);
    free(s);
}

size_t sweep_count(const sweep *s)
{
    return s->n;
}

const config *sweep_job(const sweep *s, size_t i)
{
    return i < s->n ? &s->jobs[i] : NULL;
}

const char *sweep_text(const sweep *s)
{
    return s->text;
}

uint64_t sweep_hash(const sweep *s)
{
    return s->hash;
}
