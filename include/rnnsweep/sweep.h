/* sweep.h — sweep files: parse `key = value` INI text into a grid of job configs.
 *
 * Syntax (parsed by inih, Debian's libinih): `#` or `;` comment lines, blank
 * lines, `key = value` lines and optional `[section]` headers.  Keys are the
 * job config keys (config.h).  A value is one item, a comma-separated list,
 * or an inclusive integer range `a..b`; the grid is the cartesian product.
 * Keys before the first section apply to every section; each section is a
 * grid of its own and the sweep is the union of the sections' grids (so one
 * file can hold several figures' differently shaped grids).  Without
 * sections the top-level keys are the grid.  Duplicate configs are merged.
 */
#ifndef RNNSWEEP_SWEEP_H
#define RNNSWEEP_SWEEP_H

#include <stddef.h>
#include <stdint.h>
#include "rnnsweep/config.h"

typedef struct sweep sweep;

#define SWEEP_ERRLEN 512

/* Parse a sweep file.  On any problem returns NULL and writes one line
 * "FILE:LINE: key 'gain': 'abc' is not a number" (or "FILE: binary file",
 * "FILE:LINE: malformed line", "FILE:LINE: unknown key 'foo'", "FILE:LINE:
 * key 'iters': reversed range 9..3", "FILE: no jobs") into err.  Every job
 * is resolved (config_resolve) and checked before success. */
sweep *sweep_load(const char *path, char err[SWEEP_ERRLEN]);
void sweep_free(sweep *s);

/* Number of distinct jobs, and job i (0..n-1) in a deterministic order. */
size_t sweep_count(const sweep *s);
const config *sweep_job(const sweep *s, size_t i);

/* The file's text as read, and the FNV-1a hash of that text. */
const char *sweep_text(const sweep *s);
uint64_t sweep_hash(const sweep *s);

#endif
