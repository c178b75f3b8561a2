/* outdir.h — internal: the `--out DIR` of the dump commands (src/outdir.c).
 *
 * A command writes its files into a fresh sibling directory DIR.tmp.XXXXXX,
 * which replaces DIR only when every file is complete: a failed or refused
 * dump leaves no partial output and no temporary directory.  Every dump
 * holds a marker file, .rnnsweep-dump, whose first line names its format.
 *
 * Nothing but an earlier dump of ours is ever replaced.  DIR may be absent
 * (created with the umask's mode), an empty directory, or a directory holding
 * the marker and nothing but regular files that some dump writes (the names
 * outdir.c lists); a replaced directory keeps its mode.  Anything else — a
 * symlink (DIR itself or inside it; none is ever followed), a file, a
 * subdirectory, a foreign name, no marker — is refused with one line and
 * exit code 2 before anything is created.  The swap is atomic (renameat2
 * RENAME_EXCHANGE, or two renames where the file system lacks it), and the
 * old directory is checked again once it is aside: if something was added
 * meanwhile it is put back.
 *
 * Usage: outdir_open; outdir_put_* (a failure only sets o->failed, so a
 * command writes everything and looks once); outdir_close, whose return
 * value is the command's exit code.  Messages name the command.
 */
#ifndef RNNSWEEP_OUTDIR_H
#define RNNSWEEP_OUTDIR_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include "rnnsweep/config.h"
#include "rnnsweep/rnn.h"

typedef struct outdir {
    char final[PATH_MAX]; /* DIR without trailing slashes */
    char tmp[PATH_MAX];   /* the sibling being written */
    int failed;           /* a write failed: outdir_close removes tmp */
} outdir;

/* Check that dir (the --out value of command cmd; NULL or "" is refused)
 * may be written, then create the temporary sibling.  0, or -1 after a
 * one-line message on stderr (exit code 2; nothing created). */
int outdir_open(outdir *o, const char *cmd, const char *dir);

/* Write the marker and move the dump into place (or remove it if anything
 * failed).  Returns the exit code: 0; 2 if DIR changed meanwhile into
 * something not ours (nothing written); 1 on a failed write or move. */
int outdir_close(outdir *o, const char *cmd);

/* name.npy, float64, of ndim <= 3 dimensions (s0, s1, s2; unused ones
 * ignored).  name must be one a dump writes. */
void outdir_put_f8(outdir *o, const char *name, const double *d, int ndim, size_t s0, size_t s1,
                   size_t s2);

/* name.npy, int64, of ndim <= 2 dimensions. */
void outdir_put_i8(outdir *o, const char *name, const long *d, int ndim, size_t s0, size_t s1);

/* Each tensor of p as prefix<name>.npy ("", "grad_", "init_", "final_")
 * with its SPEC §1 shape: b and b_out are vectors, the matrices stay 2-D
 * even with one column (W_in (N,1) for romo). */
void outdir_put_params(outdir *o, const rnn_params *p, const char *prefix);

/* A file `name` (one a dump writes) open for writing in the dump, or NULL
 * (and o->failed set); the caller fcloses it and sets o->failed if the
 * writes or the close failed. */
FILE *outdir_file(outdir *o, const char *name);

/* config.txt: the canonical text of c, then `extra` (key=value lines). */
void outdir_put_config(outdir *o, const config *c, const char *extra);

#endif
