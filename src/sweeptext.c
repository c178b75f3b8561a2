/* sweeptext.c — a sweep file's text before inih sees it: read, screened, cut into lines.
 *
 * Reading never blocks on a special file: the path is stat()ed first and
 * anything but a regular file is refused by its type; the file is then
 * opened with O_NONBLOCK (so a FIFO swapped in after the stat cannot hang the
 * open either) and checked again with fstat before a single byte is read.
 * The text is then screened (a NUL, a control byte other than tab/CR/LF or
 * invalid UTF-8 means a binary file) and measured line by line in characters
 * without the line end, so a CRLF file and a file with accented comments
 * have the same limits as an LF-only ASCII file.
 */
#include "sweeptext.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *type_name(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device"
         : S_ISBLK(m) ? "a block device" : S_ISSOCK(m) ? "a socket" : "not a plain file";
}

char *sweeptext_read(const char *path, long max_bytes, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s, not a regular file", path, type_name(st.st_mode));
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: %s, not a regular file", path, type_name(st.st_mode));
        goto fail;
    }
    if (st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: %lld bytes is too large for a sweep file", path,
                 (long long)st.st_size);
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto fail;
    }
    /* Up to the size fstat saw: a file growing meanwhile is read as it was. */
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    *len = got;
    close(fd);
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

int sweeptext_screen(const char *text, size_t n, unsigned *bad, int *line)
{
    const unsigned char *s = (const unsigned char *)text;
    *line = 1;
    for (size_t i = 0; i < n; i++) {
        unsigned c = s[i];
        if (c == '\n') {
            ++*line;
            continue;
        }
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7f) {
                *bad = c;
                return -1;
            }
            continue;
        }
        /* Multi-byte UTF-8: lead byte, then 1..3 continuation bytes. */
        size_t extra = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2
                     : c >= 0xf0 && c <= 0xf4 ? 3 : 0;
        if (!extra || i + extra > n - 1) {
            *bad = c;
            return -1;
        }
        for (size_t j = 1; j <= extra; j++)
            if ((s[i + j] & 0xc0) != 0x80) {
                *bad = c;
                return -1;
            }
        i += extra;
    }
    return 0;
}

const char *sweeptext_line(const char *text, size_t len, size_t *pos, size_t *n)
{
    const char *s = text + *pos;
    size_t rest = len - *pos;
    const char *nl = memchr(s, '\n', rest);
    size_t body = nl ? (size_t)(nl - s) : rest;
    *pos += nl ? body + 1 : body;
    if (body && s[body - 1] == '\r')
        body--;
    *n = body;
    return s;
}

size_t sweeptext_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

int sweeptext_first_long_line(const char *text, size_t len, size_t max, size_t *chars)
{
    size_t pos = 0, n;
    for (int line = 1; pos < len; line++) {
        const char *s = sweeptext_line(text, len, &pos, &n);
        if (n > max && (*chars = sweeptext_chars(s, n)) > max)
            return line;
    }
    return 0;
}
