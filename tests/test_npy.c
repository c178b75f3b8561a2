/* test_npy.c — .npy writer and reader: round trips of every rank 0..3 and
 * both dtypes, the format's 64-byte alignment of the data, and refusal of
 * files that are not .npy.  (test_cli.py checks the same files with NumPy.) */
#include "rnnsweep/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"

int main(void)
{
    char dir[] = "/tmp/rnnsweep-npy-XXXXXX", path[64];
    if (!mkdtemp(dir))
        return 1;
    double d[24];
    long l[24];
    for (int i = 0; i < 24; i++)
        d[i] = i * 0.1 - 1.0, l[i] = i - 7;
    const size_t shapes[4][3] = {{0}, {24}, {4, 6}, {2, 3, 4}};
    for (int nd = 0; nd <= 3; nd++)
        for (int is_int = 0; is_int <= 1; is_int++) {
            snprintf(path, sizeof path, "%s/a%d%d.npy", dir, nd, is_int);
            int rc = is_int ? npy_write_i8(path, l, nd, shapes[nd]) : npy_write_f8(path, d, nd, shapes[nd]);
            void *back;
            int got_int, got_nd;
            size_t got_shape[NPY_MAXDIM];
            rc |= npy_read(path, &back, &got_int, &got_nd, got_shape);
            size_t n = 1;
            int same_shape = got_nd == nd;
            for (int k = 0; k < nd && same_shape; k++) {
                same_shape = got_shape[k] == shapes[nd][k];
                n *= shapes[nd][k];
            }
            FILE *f = fopen(path, "rb");
            fseek(f, 0, SEEK_END);
            long size = ftell(f);
            fclose(f);
            char what[96];
            snprintf(what, sizeof what, "round trip %s rank %d (data 64-byte aligned)", is_int ? "<i8" : "<f8", nd);
            check_true(rc == 0 && got_int == is_int && same_shape &&
                           memcmp(back, is_int ? (void *)l : (void *)d, n * 8) == 0 &&
                           (size - (long)(n * 8)) % 64 == 0,
                       what, NULL);
            free(back);
        }
    snprintf(path, sizeof path, "%s/bad.npy", dir);
    FILE *f = fopen(path, "w");
    fputs("not an npy file at all, just text\n", f);
    fclose(f);
    void *back;
    int a, b;
    size_t s[NPY_MAXDIM];
    check_true(npy_read(path, &back, &a, &b, s) != 0 && back == NULL, "a text file is refused",
               NULL);
    check_true(npy_read("/nonexistent/x.npy", &back, &a, &b, s) != 0, "a missing file is refused",
               NULL);
    check_true(npy_write_f8("/nonexistent/x.npy", d, 1, shapes[1]) != 0, "an unwritable path fails",
               NULL);
    return check_summary("npy");
}
