/* npy.c — NumPy .npy format 1.0 writer and reader (little-endian, C order).
 *
 * Header: magic "\x93NUMPY", version 1.0, a little-endian u16 header length,
 * then a Python dict literal padded with spaces and a newline so that the
 * data starts at a multiple of 64 bytes.  The reader accepts what the writer
 * writes (and NumPy's own output for '<f8' / '<i8', C order).
 */
#include "rnnsweep/npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int npy_write(const char *path, const void *data, const char *descr, int ndim,
                     const size_t *shape)
{
    char dict[512], shp[256] = "";
    size_t count = 1, len = 0;
    for (int i = 0; i < ndim; i++) {
        len += (size_t)snprintf(shp + len, sizeof shp - len, "%zu,%s", shape[i],
                                (ndim > 1 && i + 1 < ndim) ? " " : "");
        count *= shape[i];
    }
    if (ndim > 1)
        shp[len - 1] = 0; /* (a, b) rather than (a, b,) */
    int dl = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                      descr, shp);
    size_t total = 10 + (size_t)dl + 1;
    size_t pad = (64 - total % 64) % 64;
    uint16_t hlen = (uint16_t)(dl + pad + 1);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                             (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)dl, f) == (size_t)dl;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    ok = ok && fwrite(data, 8, count, f) == count;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

int npy_write_f8(const char *path, const double *data, int ndim, const size_t *shape)
{
    return npy_write(path, data, "<f8", ndim, shape);
}

int npy_write_i8(const char *path, const long *data, int ndim, const size_t *shape)
{
    _Static_assert(sizeof(long) == 8, "npy_write_i8 needs 64-bit long");
    return npy_write(path, data, "<i8", ndim, shape);
}

int npy_read(const char *path, void **data, int *is_int, int *ndim, size_t shape[NPY_MAXDIM])
{
    FILE *f = fopen(path, "rb");
    unsigned char pre[10];
    char hdr[4096];
    *data = NULL;
    if (!f)
        return -1;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0 || pre[6] != 1)
        goto fail;
    size_t hlen = pre[8] | (size_t)pre[9] << 8;
    if (hlen >= sizeof hdr || fread(hdr, 1, hlen, f) != hlen)
        goto fail;
    hdr[hlen] = 0;
    if (strstr(hdr, "'descr': '<f8'"))
        *is_int = 0;
    else if (strstr(hdr, "'descr': '<i8'"))
        *is_int = 1;
    else
        goto fail;
    if (!strstr(hdr, "'fortran_order': False"))
        goto fail;
    const char *s = strstr(hdr, "'shape': (");
    if (!s)
        goto fail;
    s += 10;
    size_t count = 1;
    *ndim = 0;
    while (*s && *s != ')') {
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (end == s) {
            s++;
            continue;
        }
        if (*ndim >= NPY_MAXDIM)
            goto fail;
        shape[(*ndim)++] = (size_t)v;
        count *= (size_t)v;
        s = end;
    }
    *data = malloc(count ? count * 8 : 8);
    if (!*data || fread(*data, 8, count, f) != count)
        goto fail;
    fclose(f);
    return 0;
fail:
    free(*data);
    *data = NULL;
    fclose(f);
    errno = EINVAL;
    return -1;
}
