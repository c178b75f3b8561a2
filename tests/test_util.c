/* test_util.c — the small shared helpers: FNV-1a and blank stripping
 * (src/textutil.h) and the duration format (clock.h).
 *
 * 1. text_fnv1a against literals ("", "a", "foobar") computed by Python
 *    with rnnsweep's offset basis 1469598103934665603 (textutil.h: not the
 *    standard FNV-1a basis; every stored job hash depends on it), that the
 *    standard basis would give different values, and a bytewise reference
 *    on bytes >= 0x80 (the hash reads bytes unsigned: a job's canonical text
 *    and a sweep file may hold UTF-8).
 * 2. text_strip and text_trim on blanks of every isspace kind, on all-blank
 *    and empty text, leaving inner blanks.
 * 3. clock_duration at every unit boundary and rounding edge, including a
 *    value whose seconds round up to the next minute (179.7 s is "3m00s",
 *    never "2m60s"), and "?" for NaN, negative and absurd durations;
 *    clock_now is monotonic and clock_cpu advances with work.
 * Exits non-zero on any failure.
 */
#include "rnnsweep/clock.h"
#include "textutil.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "check.h"

static void fnv(void)
{
    /* python3: h = 1469598103934665603; for b in s: h = ((h ^ b) * 1099511628211) % 2**64 */
    static const struct { const char *s; uint64_t h, standard; } v[] = {
        {"", 0x14650fb0739d0383ULL, 0xcbf29ce484222325ULL},
        {"a", 0x44bd8ad473cd9906ULL, 0xaf63dc4c8601ec8cULL},
        {"foobar", 0x88fad7c0a8ff07f2ULL, 0x85944171f73967e8ULL}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char what[96];
        const uint64_t h = text_fnv1a(v[i].s, strlen(v[i].s));
        snprintf(what, sizeof what, "fnv1a(\"%s\") = %016llx", v[i].s, (unsigned long long)v[i].h);
        check_true(h == v[i].h && h != v[i].standard, what, "got %016llx", (unsigned long long)h);
    }
    const unsigned char hi[] = {0xc3, 0xa9, 0xff, 0x80, 0x00, 0x7f};
    uint64_t ref = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof hi; i++)
        ref = (ref ^ hi[i]) * 1099511628211ULL;
    check_true(text_fnv1a(hi, sizeof hi) == ref, "fnv1a of bytes >= 0x80 and NUL (unsigned)", NULL);
}

static void strip(void)
{
    static const struct { const char *in, *out; } v[] = {
        {"  a b \t", "a b"}, {"\t\n\v\f\r x\r\n", "x"}, {"x", "x"}, {"   ", ""}, {"", ""},
        {" 1, 2 ", "1, 2"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char buf[64], what[96];
        size_t len;
        const char *s = text_strip(v[i].in, &len);
        snprintf(what, sizeof what, "text_strip of case %zu is \"%s\"", i, v[i].out);
        check_true(len == strlen(v[i].out) && memcmp(s, v[i].out, len) == 0 && s >= v[i].in &&
                       s + len <= v[i].in + strlen(v[i].in),
                   what, "got \"%.*s\"", (int)len, s);
        snprintf(buf, sizeof buf, "%s", v[i].in);
        const char *t = text_trim(buf);
        snprintf(what, sizeof what, "text_trim of case %zu is \"%s\" (in place)", i, v[i].out);
        check_true(strcmp(t, v[i].out) == 0 && t >= buf && t < buf + sizeof buf, what, "got \"%s\"",
                   t);
    }
}

static void duration(void)
{
    static const struct { double s; const char *out; } v[] = {
        {0, "0s"},          {0.4, "0s"},        {42.4, "42s"},      {119.4, "119s"},
        {119.6, "2m00s"},   {125, "2m05s"},     {179.7, "3m00s"},   {3599.5, "60m00s"},
        {7199.4, "119m59s"}, {7199.6, "2h00m"}, {7620, "2h07m"},    {7649, "2h07m"},
        {7651, "2h08m"},    {86400 * 3.0, "72h00m"}, {1e9, "277777h47m"},
        {NAN, "?"},         {-1, "?"},          {1.5e9, "?"},       {INFINITY, "?"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[32], what[96];
        clock_duration(v[i].s, out, sizeof out);
        snprintf(what, sizeof what, "clock_duration(%g) = \"%s\"", v[i].s, v[i].out);
        check_true(strcmp(out, v[i].out) == 0, what, "got \"%s\"", out);
    }
    char small[4];
    clock_duration(7620, small, sizeof small);
    check_true(strcmp(small, "2h0") == 0, "clock_duration truncates to the buffer, NUL-terminated",
               "got \"%s\"", small);
}

static void clocks(void)
{
    double prev = clock_now(), worst = 0;
    for (int i = 0; i < 100000; i++) {
        const double t = clock_now();
        worst = fmin(worst, t - prev);
        prev = t;
    }
    check("clock_now never goes back (most negative step, s)", -worst, 0.0);
    const double c0 = clock_cpu();
    volatile double x = 0;
    for (long i = 0; i < 20000000 && clock_cpu() - c0 < 0.02; i++)
        x += sqrt((double)i);
    check_true(clock_cpu() - c0 > 0, "clock_cpu advances with work", "%.4f s", clock_cpu() - c0);
}

int main(void)
{
    fnv();
    strip();
    duration();
    clocks();
    return check_summary("util");
}
