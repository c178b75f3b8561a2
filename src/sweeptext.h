/* sweeptext.h — internal: a sweep file's text before it is parsed (src/sweeptext.c),
 * used by sweep.c.  Not installed.
 *
 *   - reading: only a regular file is read, and it is never opened in a way
 *     that can block (a FIFO, a terminal or a device is refused by type);
 *   - screening: the text must be UTF-8 without NUL or control bytes other
 *     than tab, CR and LF;
 *   - lines: a line ends at LF; its line end is the LF and a CR just before
 *     it (or a CR that ends the file).  Line lengths are counted in
 *     characters (UTF-8 code points) without the line end.
 *
 * Messages are one line, "PATH: ..." or "PATH:LINE: ...".
 */
#ifndef RNNSWEEP_SWEEPTEXT_H
#define RNNSWEEP_SWEEPTEXT_H

#include <stddef.h>

/* Read the whole regular file at path (at most max_bytes) into a new
 * NUL-terminated buffer the caller frees; *len receives its length.  NULL
 * with a message in err[errlen] if path is missing, not a regular file
 * (named by its type), too large or unreadable. */
char *sweeptext_read(const char *path, long max_bytes, size_t *len, char *err, size_t errlen);

/* 0 if text[0..n) is valid UTF-8 without NUL and without control bytes
 * other than tab, CR and LF; otherwise -1 with the first offending byte in
 * *bad and its line (1-based) in *line. */
int sweeptext_screen(const char *text, size_t n, unsigned *bad, int *line);

/* The line that starts at text[*pos] (*pos < len): returns its start, its
 * length without the line end in *n, and moves *pos past the line end. */
const char *sweeptext_line(const char *text, size_t len, size_t *pos, size_t *n);

/* Characters (UTF-8 code points) in s[0..n) of screened text. */
size_t sweeptext_chars(const char *s, size_t n);

/* The first line with more than max characters: its number (1-based), and
 * its length in *chars; 0 if there is none. */
int sweeptext_first_long_line(const char *text, size_t len, size_t max, size_t *chars);

#endif
