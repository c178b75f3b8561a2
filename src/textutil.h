/* textutil.h — internal: the two text helpers the parsers share (header only).
 *
 *   - text_fnv1a: the 64-bit FNV-1a hash, the identity of a job (its
 *     canonical text, config.c) and of a sweep file (its text, sweep.c);
 *     changing it changes every stored hash, so it keeps the offset basis
 *     the first version used, 1469598103934665603 (0x14650fb0739d0383),
 *     which is NOT the standard FNV-1a basis 14695981039346656037 (one
 *     digit short): these hashes differ from other FNV-1a implementations;
 *   - text_strip / text_trim: a value without its surrounding blanks
 *     (isspace), read in place or cut in place.
 */
#ifndef RNNSWEEP_TEXTUTIL_H
#define RNNSWEEP_TEXTUTIL_H

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* FNV-1a 64 of the n bytes at p, with rnnsweep's offset basis (above) and
 * the standard prime 1099511628211. */
static inline uint64_t text_fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* The part of the NUL-terminated s between its leading and trailing blanks:
 * returns its start (inside s) and its length in *len; s is not changed. */
static inline const char *text_strip(const char *s, size_t *len)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    *len = n;
    return s;
}

/* s stripped in place: a NUL replaces the first trailing blank; returns the
 * first character that is not a blank. */
static inline char *text_trim(char *s)
{
    size_t n;
    char *t = (char *)text_strip(s, &n);
    t[n] = 0;
    return t;
}

#endif
