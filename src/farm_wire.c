/* farm_wire.c — the farm's wire format and MPI plumbing: byte buffers,
 * reading result and progress messages in place, checked MPI calls, a sleep.
 *
 * Messages come from malloc (aligned for any type) and every section is a
 * multiple of 8 bytes long (farm_int.h asserts it), so the row arrays of a
 * message are read where they lie instead of being copied.
 */
#include "farm_int.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int farm_mpi(int rc, const char *what)
{
    if (rc == MPI_SUCCESS)
        return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(rc, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", rc);
    fprintf(stderr, "rnnsweep sweep: MPI %s: %s\n", what, msg);
    return -1;
}

void farm_put(farm_buf *b, const void *src, size_t n)
{
    if (b->oom || n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

/* Section lengths in bytes, refusing counts whose products overflow. */
static int section(uint64_t count, size_t size, size_t *total)
{
    if (count > SIZE_MAX / size || *total > SIZE_MAX - count * size)
        return -1;
    *total += count * size;
    return 0;
}

int farm_res_view(const unsigned char *p, size_t n, res_view *v)
{
    if (n < sizeof v->h)
        return -1;
    memcpy(&v->h, p, sizeof v->h);
    size_t need = sizeof v->h;
    if (section(v->h.ncurve, sizeof(train_curve_row), &need) ||
        section(v->h.nlyap, sizeof(train_lyap_row), &need) ||
        section(v->h.ndiag, sizeof(train_diag_row), &need) ||
        section(v->h.nweights, sizeof(double), &need) || section(v->h.ckpt, 1, &need) ||
        need != n)
        return -1;
    const unsigned char *q = p + sizeof v->h;
    v->curve = (const train_curve_row *)q;
    q += v->h.ncurve * sizeof *v->curve;
    v->lyap = (const train_lyap_row *)q;
    q += v->h.nlyap * sizeof *v->lyap;
    v->diag = (const train_diag_row *)q;
    q += v->h.ndiag * sizeof *v->diag;
    v->weights = (const double *)q;
    q += v->h.nweights * sizeof(double);
    v->ckpt = q;
    return 0;
}

int farm_prog_view(const unsigned char *p, size_t n, prog_view *v)
{
    if (n < sizeof v->h)
        return -1;
    memcpy(&v->h, p, sizeof v->h);
    size_t need = sizeof v->h;
    if (section(v->h.ncurve, sizeof(train_curve_row), &need) ||
        section(v->h.nlyap, sizeof(train_lyap_row), &need) ||
        section(v->h.ndiag, sizeof(train_diag_row), &need) || need != n)
        return -1;
    v->curve = (const train_curve_row *)(p + sizeof v->h);
    v->lyap = (const train_lyap_row *)(v->curve + v->h.ncurve);
    v->diag = (const train_diag_row *)(v->lyap + v->h.nlyap);
    return 0;
}
