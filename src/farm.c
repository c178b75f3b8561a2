/* farm.c — the master: dispatch, results, live progress, stopping.
 *
 * Rank 0's main thread hands pending jobs out longest-expected-first (to
 * ranks 1..P-1 by MPI and to its own worker thread by a mailbox), writes
 * each result in one transaction, and writes the workers' live progress
 * (batched by the workers, at most one message per job per --flush).  It
 * polls every 0.5-4 ms and sleeps in between.
 *
 * Suspects (jobs that were running when a launch with several jobs died,
 * store_recover) are dispatched first and one at a time, with nothing else
 * in flight, so that a job that kills its launch is found alone.
 *
 * Stopping has one way in, start_stopping(): a signal to rank 0, a signal
 * reported by a worker (in its result or by TAG_SIGNAL when idle), or a
 * database error.  It stops dispatch, interrupts every running job and
 * starts the grace period; jobs that do not return within it are abandoned
 * (the caller aborts the launch; the next launch requeues them unblamed,
 * because this launch closes its runs row).  A database error ends the
 * launch with FARM_ERROR after the same orderly stop, so that no job is
 * charged for it.
 */
#include "farm_int.h"
#include "rnnsweep/clock.h"

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    long job_id;   /* 0 when idle */
    int suspect;   /* the job is a suspect: nothing may run beside it */
    double since;
    long iters, done; /* the job's iterations, and those done by its last progress message */
} slot;

typedef struct master {
    store *st;
    long run_id;
    const farm_opts *o;
    int nranks;
    const char *hosts; /* rank r's host at hosts + r * stride */
    size_t stride;
    slot *slots;   /* [0] local thread, [r] rank r */
    farm_local *loc;            /* rank 0's worker thread */
    long *ids;
    config *cfgs;
    size_t npending, nsuspect, next;
    size_t done, failed, total, finished_before, lost;
    int stopping, interrupted_jobs, db_error, mpi_error;
    double t0, last_progress, deadline;
} master;

/* Cost descending, then the stored order (ties are common: jobs that differ
 * only in gain, lr or seed cost the same), so the order does not depend on
 * the C library's qsort. */
static int by_cost_desc(const void *a, const void *b)
{
    const double *x = a, *y = b;
    return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* Longest expected first after the suspects (which keep their place in
 * front): sort (cost, index) pairs, then permute ids/cfgs. */
static int sort_pending(master *m)
{
    const size_t n = m->npending - m->nsuspect;
    long *ids0 = m->ids + m->nsuspect;
    config *cfgs0 = m->cfgs + m->nsuspect;
    double *key = malloc((n ? n : 1) * 2 * sizeof(double));
    long *ids = malloc((n ? n : 1) * sizeof *ids);
    config *cfgs = malloc((n ? n : 1) * sizeof *cfgs);
    if (!key || !ids || !cfgs) {
        free(key), free(ids), free(cfgs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        key[2 * i] = train_cost(&cfgs0[i]);
        key[2 * i + 1] = (double)i;
    }
    qsort(key, n, 2 * sizeof(double), by_cost_desc);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)key[2 * i + 1];
        ids[i] = ids0[k];
        cfgs[i] = cfgs0[k];
    }
    memcpy(ids0, ids, n * sizeof *ids);
    memcpy(cfgs0, cfgs, n * sizeof *cfgs);
    free(key), free(ids), free(cfgs);
    return 0;
}

static int busy(const master *m)
{
    int b = 0;
    for (int r = 0; r < m->nranks; r++)
        b += m->slots[r].job_id != 0;
    return b;
}

/* Ask every running job to stop at its next iteration. */
static void interrupt_all(master *m)
{
    atomic_store(&m->loc->interrupt, 1);
    for (int r = 1; r < m->nranks; r++)
        if (m->slots[r].job_id) {
            char z = 0;
            if (farm_mpi(MPI_Send(&z, 1, MPI_BYTE, r, TAG_INTERRUPT, MPI_COMM_WORLD), "Send interrupt"))
                m->mpi_error = 1;
        }
}

/* The one way into stopping: no new jobs, every running job interrupted,
 * the grace period started. */
static void start_stopping(master *m, const char *why)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    m->deadline = clock_now() + m->o->grace;
    fprintf(stderr, "[sweep] %s: no new jobs; waiting up to %g s for %d running job(s) to "
                    "checkpoint\n", why, m->o->grace, busy(m));
    interrupt_all(m);
}

static void db_failed(master *m)
{
    fprintf(stderr, "rnnsweep sweep: database: %s\n", store_errmsg(m->st));
    m->db_error = 1;
    start_stopping(m, "database error");
}

/* Claim the next pending job and pack its message; -1 on failure. */
static int next_job(master *m, int rank, farm_buf *msg, long *job_id)
{
    const long id = m->ids[m->next];
    const config *c = &m->cfgs[m->next];
    void *ck = NULL;
    size_t nck = 0;
    if (store_claim(m->st, id, m->run_id, m->hosts + (size_t)rank * m->stride, rank) != STORE_OK ||
        store_checkpoint_get(m->st, id, &ck, &nck) != STORE_OK) {
        free(ck);
        db_failed(m);
        return -1;
    }
    m->next++;
    job_head jh = {.job_id = id, .time_limit = m->o->job_time_limit, .flush = m->o->flush,
                   .ckpt = nck, .cfg = *c};
    farm_put(msg, &jh, sizeof jh);
    farm_put(msg, ck, nck);
    free(ck);
    *job_id = id;
    return msg->oom || msg->n > FARM_MAX_MSG ? -1 : 0;
}

static int suspect_running(const master *m)
{
    for (int r = 0; r < m->nranks; r++)
        if (m->slots[r].job_id && m->slots[r].suspect)
            return 1;
    return 0;
}

static void dispatch(master *m)
{
    for (int r = 0; r < m->nranks && m->next < m->npending && !m->stopping; r++) {
        if (m->slots[r].job_id)
            continue;
        /* A suspect runs alone: nothing else in flight before or beside it. */
        if (busy(m) > 0 && (m->next < m->nsuspect || suspect_running(m)))
            return;
        farm_buf msg = {0};
        long id;
        if (next_job(m, r, &msg, &id) != 0) {
            free(msg.p);
            if (!m->db_error) {
                fprintf(stderr, "rnnsweep sweep: cannot pack job %ld\n", m->ids[m->next - 1]);
                m->mpi_error = 1;
                start_stopping(m, "internal error");
            }
            return;
        }
        m->slots[r] = (slot){.job_id = id, .suspect = m->next <= m->nsuspect, .since = clock_now(),
                             .iters = m->cfgs[m->next - 1].iters};
        if (r == 0) {
            pthread_mutex_lock(&m->loc->mu);
            m->loc->job = msg.p;
            m->loc->job_len = msg.n;
            pthread_cond_signal(&m->loc->cv);
            pthread_mutex_unlock(&m->loc->mu);
        } else {
            if (farm_mpi(MPI_Send(msg.p, (int)msg.n, MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD),
                         "Send job")) {
                m->mpi_error = 1;
                start_stopping(m, "MPI error");
            }
            free(msg.p);
        }
    }
}

/* Write one result in one transaction and free its slot. */
static void handle_result(master *m, const unsigned char *p, size_t n, int from)
{
    res_view v;
    if (farm_res_view(p, n, &v) != 0 || v.h.rank != from) {
        fprintf(stderr, "rnnsweep sweep: malformed result from rank %d\n", from);
        m->mpi_error = 1;
        start_stopping(m, "malformed result");
        return;
    }
    const res_head *rh = &v.h;
    if (rh->nweights && (rh->N <= 0 || rh->I <= 0 || rh->O <= 0 ||
                         rh->nweights != rnn_params_size(rh->N, rh->I, rh->O))) {
        fprintf(stderr, "rnnsweep sweep: malformed result from rank %d (weights)\n", from);
        m->mpi_error = 1;
        start_stopping(m, "malformed result");
        return;
    }
    rnn_params wp;
    if (rh->nweights)
        rnn_params_wrap(&wp, rh->N, rh->I, rh->O, (double *)v.weights); /* read only */
    store_result r = {.job_id = rh->job_id, .status = rh->status, .host = rh->host,
                      .rank = rh->rank, .wall_seconds = rh->wall, .val_loss = rh->val_loss,
                      .val_accuracy = rh->val_acc, .test_loss = rh->test_loss,
                      .test_accuracy = rh->test_acc, .error = rh->error[0] ? rh->error : NULL,
                      .curve = v.curve, .ncurve = rh->ncurve, .lyap = v.lyap, .nlyap = rh->nlyap,
                      .diag = v.diag, .ndiag = rh->ndiag,
                      .weights = rh->nweights && m->o->save_weights ? &wp : NULL,
                      .checkpoint = rh->ckpt ? v.ckpt : NULL, .checkpoint_size = rh->ckpt};
    m->slots[from].job_id = 0;
    if (store_result_put(m->st, &r) != STORE_OK) {
        m->lost++;
        db_failed(m);
    } else if (rh->status == JOB_PENDING) {
        m->interrupted_jobs++;
    } else if (rh->status == JOB_FAILED) {
        m->failed++;
    } else {
        m->done++;
    }
    if (rh->interrupted)
        start_stopping(m, "signal received");
}

/* Write a worker's live progress; a progress message that cannot be
 * written is dropped (the result carries every row again). */
static void handle_progress(master *m, const unsigned char *p, size_t n)
{
    prog_view v;
    if (farm_prog_view(p, n, &v) != 0)
        return;
    for (int r = 0; r < m->nranks; r++)
        if (m->slots[r].job_id == v.h.job_id)
            m->slots[r].done = (long)v.h.iter;
    if (store_progress(m->st, v.h.job_id, v.h.iter, v.curve, v.h.ncurve, v.lyap, v.h.nlyap, v.diag,
                       v.h.ndiag) != STORE_OK)
        fprintf(stderr, "rnnsweep sweep: database (progress of job %lld dropped): %s\n",
                (long long)v.h.job_id, store_errmsg(m->st));
}

/* Take the local thread's progress messages and result, then every MPI
 * message waiting (any tag, so that one rank's messages are read in the
 * order it sent them); returns how many arrived. */
static int collect(master *m)
{
    int got = 0;
    farm_buf res = {0}, prog = {0};
    int has = farm_local_take(m->loc, &res, &prog);
    for (size_t off = 0; off + sizeof(uint64_t) <= prog.n;) {
        uint64_t len;
        memcpy(&len, prog.p + off, sizeof len);
        off += sizeof len;
        if (len > prog.n - off)
            break;
        /* in place: the buffer is malloc'ed and every length is a multiple
         * of 8 (farm_int.h), so each message's rows stay aligned */
        handle_progress(m, prog.p + off, len);
        off += len;
        got++;
    }
    free(prog.p);
    if (has) {
        if (res.oom) {
            fprintf(stderr, "rnnsweep sweep: out of memory for a result of rank 0\n");
            m->slots[0].job_id = 0;
            m->mpi_error = 1;
            start_stopping(m, "out of memory");
        } else {
            handle_result(m, res.p, res.n, 0);
        }
        free(res.p);
        got++;
    }
    for (;;) {
        int flag = 0;
        MPI_Status s;
        if (farm_mpi(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s), "Iprobe")) {
            m->mpi_error = 1;
            break;
        }
        if (!flag)
            break;
        int n;
        if (farm_mpi(MPI_Get_count(&s, MPI_BYTE, &n), "Get_count") || n < 0) {
            m->mpi_error = 1;
            break;
        }
        unsigned char *msg = malloc(n > 0 ? (size_t)n : 1);
        if (!msg) {
            m->mpi_error = 1;
            break;
        }
        if (farm_mpi(MPI_Recv(msg, n, MPI_BYTE, s.MPI_SOURCE, s.MPI_TAG, MPI_COMM_WORLD,
                              MPI_STATUS_IGNORE), "Recv")) {
            free(msg);
            m->mpi_error = 1;
            break;
        }
        if (s.MPI_TAG == TAG_RESULT)
            handle_result(m, msg, (size_t)n, s.MPI_SOURCE);
        else if (s.MPI_TAG == TAG_PROGRESS)
            handle_progress(m, msg, (size_t)n);
        else if (s.MPI_TAG == TAG_SIGNAL)
            start_stopping(m, "signal received by a worker rank");
        free(msg);
        got++;
    }
    if (m->mpi_error)
        start_stopping(m, "MPI error");
    return got;
}

/* Seconds left: from the finished jobs' rate once there are some, else
 * from the running jobs' iteration rates (live progress): a running job
 * that has done d of its n iterations in e seconds takes about e n / d. */
static double eta(const master *m, double t, double rate_per_min)
{
    const size_t queued = m->npending - m->next;
    if (rate_per_min > 0)
        return (double)(queued + (size_t)busy(m)) / rate_per_min * 60.0;
    double sum = 0, left = (double)queued;
    int k = 0;
    for (int r = 0; r < m->nranks; r++) {
        const slot *s = &m->slots[r];
        if (!s->job_id || s->done <= 0 || s->iters <= 0)
            continue;
        const double frac = (double)s->done / (double)s->iters;
        sum += (t - s->since) / frac;
        left += 1.0 - frac;
        k++;
    }
    return k ? sum / k * left / m->nranks : NAN;
}

static void progress(master *m, int force)
{
    const double t = clock_now();
    if (!force && (m->o->progress <= 0 || t - m->last_progress < m->o->progress))
        return;
    m->last_progress = t;
    const double mins = (t - m->t0) / 60.0;
    const double rate = mins > 0 ? (double)(m->done + m->failed) / mins : 0;
    char left[32];
    clock_duration(eta(m, t, rate), left, sizeof left);
    fprintf(stderr, "[sweep] %zu/%zu finished, %d running, %zu failed | %.1f jobs/min | ETA %s\n",
            m->finished_before + m->done + m->failed, m->total, busy(m), m->failed, rate, left);
}

int farm_init(void)
{
    return farm_mpi(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN),
                    "Comm_set_errhandler") ? FARM_ERROR : FARM_DONE;
}

int farm_stop_workers(int nranks, int rc)
{
    int32_t code = rc;
    int bad = 0;
    for (int r = 1; r < nranks; r++)
        bad |= farm_mpi(MPI_Send(&code, sizeof code, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD),
                        "Send stop");
    return bad ? -1 : 0;
}

int farm_master(store *st, long sweep_id, long run_id, int nranks, const char *hosts,
                size_t stride, const farm_opts *o, size_t *done)
{
    master m;
    memset(&m, 0, sizeof m);
    m.st = st;
    m.run_id = run_id;
    m.o = o;
    m.nranks = nranks;
    m.hosts = hosts;
    m.stride = stride;
    *done = 0;
    size_t counts[JOB_NSTATUS];
    if (store_pending(st, sweep_id, &m.ids, &m.cfgs, &m.npending, &m.nsuspect) != STORE_OK ||
        store_sweep_counts(st, sweep_id, counts) != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: database: %s\n", store_errmsg(st));
        free(m.ids), free(m.cfgs);
        return farm_stop_workers(nranks, FARM_ERROR) ? FARM_ABANDONED : FARM_ERROR;
    }
    for (int s = 0; s < JOB_NSTATUS; s++)
        m.total += counts[s];
    m.finished_before = m.total - counts[JOB_PENDING] - counts[JOB_RUNNING];
    m.slots = calloc((size_t)nranks, sizeof *m.slots);
    if (!m.slots || sort_pending(&m) != 0 || !(m.loc = farm_local_start(hosts))) {
        fprintf(stderr, "rnnsweep sweep: out of memory for %zu pending jobs\n", m.npending);
        free(m.slots), free(m.ids), free(m.cfgs);
        return farm_stop_workers(nranks, FARM_ERROR) ? FARM_ABANDONED : FARM_ERROR;
    }
    m.t0 = m.last_progress = clock_now();
    fprintf(stderr, "[sweep] %zu jobs, %zu pending, %zu finished earlier; %d rank(s)\n", m.total,
            m.npending, m.finished_before, nranks);
    if (m.nsuspect)
        fprintf(stderr, "[sweep] %zu job(s) were running when an earlier launch died: running "
                        "them one at a time first\n", m.nsuspect);
    double pause = 0.0005;
    int rc = FARM_DONE;
    for (;;) {
        if (atomic_load(&farm_got_signal))
            start_stopping(&m, "signal received");
        dispatch(&m);
        const int got = collect(&m);
        progress(&m, 0);
        if (busy(&m) == 0 && (m.stopping || m.next >= m.npending))
            break;
        if (m.stopping && clock_now() > m.deadline) {
            fprintf(stderr, "[sweep] grace period over with %d job(s) still running; they will "
                            "restart on the next launch\n", busy(&m));
            rc = FARM_ABANDONED;
            break;
        }
        if (got) {
            pause = 0.0005;
        } else {
            clock_sleep(pause);
            if (pause < 0.004)
                pause *= 2;
        }
    }
    if (rc == FARM_DONE && (m.db_error || m.mpi_error))
        rc = FARM_ERROR;
    else if (rc == FARM_DONE && (m.stopping || m.next < m.npending))
        rc = FARM_INTERRUPTED;
    if (m.lost)
        fprintf(stderr, "[sweep] %zu result(s) could not be written; those jobs rerun from their "
                        "last stored checkpoint on the next launch\n", m.lost);
    progress(&m, 1);
    /* A local thread still running a job is abandoned: the caller aborts. */
    farm_local_stop(m.loc, m.slots[0].job_id == 0);
    if (rc != FARM_ABANDONED && farm_stop_workers(nranks, rc) != 0)
        rc = FARM_ABANDONED; /* a rank that cannot be told: end the launch */
    *done = m.done + m.failed; /* finished by this launch; checkpointed ones are not */
    free(m.slots), free(m.ids), free(m.cfgs);
    return rc;
}
