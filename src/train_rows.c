/* train_rows.c — the names of the result rows' phases and diagnostics (train_rows.h).
 *
 * The one copy of each list: the trainer's messages, the store's lyapunov
 * and diagnostics tables and the commands' reports all read them here.
 */
#include "rnnsweep/train_rows.h"

#include <stddef.h>

const char *train_phase_name(int phase)
{
    static const char *const names[] = {"init", "floss", "train", "trained"};
    return phase >= 0 && phase < (int)(sizeof names / sizeof names[0]) ? names[phase] : NULL;
}

const char *train_diag_name(int name)
{
    static const char *const names[DIAG_COUNT] = {"align_W_rec", "align_W_in", "align_b",
                                                  "align_rec",   "drift_W_rec", "drift_W_in",
                                                  "drift_W_out"};
    return name >= 0 && name < DIAG_COUNT ? names[name] : NULL;
}
