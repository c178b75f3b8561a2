/* farm.c — the master/worker protocol: dispatch, results, signals, the local worker thread.
 *
 * Messages (all bytes, MPI_BYTE):
 *   TAG_JOB       master -> worker: job_head + checkpoint bytes
 *   TAG_RESULT    worker -> master: res_head + curve rows + exponent rows +
 *                 final weights + checkpoint bytes
 *   TAG_INTERRUPT master -> worker: stop the running job at its next iteration
 *   TAG_STOP      master -> worker: no more jobs; int32 exit code
 * The config travels as the plain struct: every rank runs the same binary.
 * The local worker thread of rank 0 exchanges the same packed messages
 * through a mutex-protected mailbox, so both kinds of worker share one code
 * path (run_job) and the master one (handle_result).
 *
 * Tuned for jobs of seconds to hours: the master polls every 1-4 ms and
 * sleeps in between; a result costs one SQLite transaction.
 */
#include "rnnsweep/farm.h"
#include "rnnsweep/train.h"

#include <math.h>
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_JOB = 11, TAG_RESULT, TAG_INTERRUPT, TAG_STOP };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
    got_signal = sig;
}

void farm_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void nap(double seconds)
{
    struct timespec ts = {0, (long)(seconds * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---- byte buffers ---- */

typedef struct buf { unsigned char *p; size_t n, cap; int oom; } buf;

static void put(buf *b, const void *src, size_t n)
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

typedef struct job_head {
    int64_t job_id;
    double time_limit;
    uint64_t ckpt;
    config cfg;
} job_head;

typedef struct res_head {
    int64_t job_id;
    int32_t status, rank, interrupted, N, I, O;
    double wall, final_loss, final_acc;
    uint64_t ncurve, nlyap, nweights, ckpt;
    char host[64];
    char error[256];
} res_head;
_Static_assert(sizeof(res_head) % 8 == 0 && sizeof(train_curve_row) % 8 == 0 &&
                   sizeof(train_lyap_row) % 8 == 0,
               "result sections must keep 8-byte alignment");

/* ---- the worker side: one job from its message to its result message ---- */

typedef struct job_ctx {
    int (*interrupted)(void *);
    void *arg;
} job_ctx;

static int job_progress(void *ctx, int phase, long it, long total, double loss)
{
    (void)phase, (void)it, (void)total, (void)loss;
    const job_ctx *c = ctx;
    return got_signal || c->interrupted(c->arg);
}

/* Crash switch for the tests: a job whose seed equals RNNSWEEP_TEST_CRASH_SEED
 * kills its whole process, as a segfaulting job would kill its launch. */
static void test_crash(const config *c)
{
    const char *s = getenv("RNNSWEEP_TEST_CRASH_SEED");
    if (s && *s && atol(s) == c->seed)
        raise(SIGKILL);
}

static void run_job(const unsigned char *msg, size_t len, int rank, const char *host,
                    int (*interrupted)(void *), void *arg, buf *out)
{
    job_head jh;
    res_head rh;
    memset(&rh, 0, sizeof rh);
    memcpy(&jh, msg, sizeof jh);
    rh.job_id = jh.job_id;
    rh.rank = rank;
    snprintf(rh.host, sizeof rh.host, "%s", host);
    rh.final_loss = rh.final_acc = NAN;
    char err[256];
    const double t0 = now();
    test_crash(&jh.cfg);
    train_job *j = train_alloc(&jh.cfg, err);
    if (!j) {
        rh.status = JOB_FAILED;
        snprintf(rh.error, sizeof rh.error, "%s", err);
        put(out, &rh, sizeof rh);
        return;
    }
    if (jh.ckpt && (sizeof jh + jh.ckpt > len ||
                    train_checkpoint_load(j, msg + sizeof jh, jh.ckpt) != 0))
        snprintf(rh.error, sizeof rh.error, "checkpoint unreadable; job restarted");
    job_ctx ctx = {interrupted, arg};
    train_hooks h = {&ctx, job_progress, NULL, NULL, jh.time_limit};
    const int st = train_run(j, &h);
    rh.wall = now() - t0;
    static const int map[] = {[TRAIN_DONE] = JOB_DONE, [TRAIN_DIVERGED] = JOB_DIVERGED,
                              [TRAIN_STOPPED] = JOB_PENDING, [TRAIN_TIMEOUT] = JOB_TIMEOUT};
    rh.status = map[st];
    rh.interrupted = st == TRAIN_STOPPED;
    const rnn_params *p = train_params(j);
    if (st == TRAIN_DONE || st == TRAIN_TIMEOUT) {
        double l, a;
        train_evaluate(j, &l, &a);
        rh.final_loss = l;
        rh.final_acc = a;
        rh.nweights = p->size;
    }
    if (st == TRAIN_DIVERGED)
        snprintf(rh.error, sizeof rh.error, "non-finite loss at iteration %ld", train_iter(j));
    if (st == TRAIN_TIMEOUT)
        snprintf(rh.error, sizeof rh.error, "job time limit of %g s reached at iteration %ld",
                 jh.time_limit, train_iter(j));
    size_t nc, nl;
    const train_curve_row *curve = train_curve(j, &nc);
    const train_lyap_row *lyap = train_lyap(j, &nl);
    rh.ncurve = nc;
    rh.nlyap = nl;
    rh.N = p->N, rh.I = p->I, rh.O = p->O;
    unsigned char *ck = NULL;
    if (st == TRAIN_STOPPED) {
        rh.ckpt = train_checkpoint_size(j);
        ck = malloc(rh.ckpt);
        if (!ck || train_checkpoint_save(j, ck, rh.ckpt) != 0) {
            rh.ckpt = 0; /* the job will restart from scratch */
            snprintf(rh.error, sizeof rh.error, "checkpoint could not be saved");
        }
    }
    put(out, &rh, sizeof rh);
    put(out, curve, nc * sizeof *curve);
    put(out, lyap, nl * sizeof *lyap);
    put(out, p->data, rh.nweights * sizeof(double));
    put(out, ck, rh.ckpt);
    free(ck);
    train_free(j);
}

/* ---- remote workers ---- */

static double last_probe;

static int mpi_interrupted(void *arg)
{
    (void)arg;
    const double t = now();
    if (t - last_probe < 0.05)
        return 0;
    last_probe = t;
    int flag = 0;
    MPI_Status s;
    MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s);
    return flag && (s.MPI_TAG == TAG_INTERRUPT || s.MPI_TAG == TAG_STOP);
}

/* Wait for a message from `source` with tag `tag` (or any) without burning a core. */
static void wait_probe(int source, int tag, MPI_Status *s)
{
    double pause = 0.0005;
    for (;;) {
        int flag = 0;
        MPI_Iprobe(source, tag, MPI_COMM_WORLD, &flag, s);
        if (flag)
            return;
        nap(pause);
        if (pause < 0.004)
            pause *= 2;
    }
}

int farm_worker(void)
{
    int rank, len;
    char host[MPI_MAX_PROCESSOR_NAME];
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Get_processor_name(host, &len);
    for (;;) {
        MPI_Status s;
        wait_probe(0, MPI_ANY_TAG, &s);
        int n;
        MPI_Get_count(&s, MPI_BYTE, &n);
        unsigned char *msg = malloc(n > 0 ? (size_t)n : 1);
        if (!msg)
            return FARM_ERROR;
        MPI_Recv(msg, n, MPI_BYTE, 0, s.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (s.MPI_TAG == TAG_STOP) {
            int32_t code;
            memcpy(&code, msg, sizeof code);
            free(msg);
            return code;
        }
        if (s.MPI_TAG == TAG_JOB) {
            buf out = {0};
            run_job(msg, (size_t)n, rank, host, mpi_interrupted, NULL, &out);
            if (out.oom) {
                free(msg);
                return FARM_ERROR;
            }
            MPI_Send(out.p, (int)out.n, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
            free(out.p);
        }
        free(msg); /* a late TAG_INTERRUPT is dropped */
    }
}

/* ---- the local worker thread of rank 0 ---- */

typedef struct local {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned char *job;   /* to run (owned), NULL when none */
    size_t job_len;
    buf result;           /* finished result, valid when has_result */
    int has_result, quit;
    volatile sig_atomic_t interrupt;
    const char *host;
} local;

static int local_interrupted(void *arg)
{
    return ((local *)arg)->interrupt;
}

static void *local_main(void *arg)
{
    local *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->job && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit)
            break;
        unsigned char *job = l->job;
        size_t len = l->job_len;
        pthread_mutex_unlock(&l->mu);
        buf out = {0};
        run_job(job, len, 0, l->host, local_interrupted, l, &out);
        free(job);
        pthread_mutex_lock(&l->mu);
        l->job = NULL;
        l->result = out;
        l->has_result = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- the master ---- */

typedef struct slot {
    long job_id;   /* 0 when idle */
    double since;
} slot;

typedef struct master {
    store *st;
    long run_id;
    const farm_opts *o;
    int nranks;
    const char *hosts; /* rank r's host at hosts + r * stride */
    size_t stride;
    slot *slots;   /* [0] local thread, [r] rank r */
    local loc;
    long *ids;
    config *cfgs;
    size_t npending, next;
    size_t done, failed, total, finished_before;
    int stopping, interrupted_jobs, error;
    double t0, last_progress;
} master;

static int by_cost_desc(const void *a, const void *b)
{
    const double ca = ((const double *)a)[0], cb = ((const double *)b)[0];
    return ca < cb ? 1 : ca > cb ? -1 : 0;
}

/* Longest expected first: sort (cost, index) pairs, then permute ids/cfgs. */
static int sort_pending(master *m)
{
    const size_t n = m->npending;
    double *key = malloc(n * 2 * sizeof(double));
    long *ids = malloc(n * sizeof *ids);
    config *cfgs = malloc(n * sizeof *cfgs);
    if (n && (!key || !ids || !cfgs)) {
        free(key), free(ids), free(cfgs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        key[2 * i] = train_cost(&m->cfgs[i]);
        key[2 * i + 1] = (double)i;
    }
    qsort(key, n, 2 * sizeof(double), by_cost_desc);
    for (size_t i = 0; i < n; i++) {
        size_t k = (size_t)key[2 * i + 1];
        ids[i] = m->ids[k];
        cfgs[i] = m->cfgs[k];
    }
    free(key);
    free(m->ids);
    free(m->cfgs);
    m->ids = ids;
    m->cfgs = cfgs;
    return 0;
}

/* Claim the next pending job and pack its message; -1 on failure. */
static int next_job(master *m, int rank, buf *msg, long *job_id)
{
    const long id = m->ids[m->next];
    const config *c = &m->cfgs[m->next];
    m->next++;
    void *ck = NULL;
    size_t nck = 0;
    if (store_claim(m->st, id, m->run_id, m->hosts + (size_t)rank * m->stride, rank) != STORE_OK ||
        store_checkpoint_get(m->st, id, &ck, &nck) != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: database: %s\n", store_errmsg(m->st));
        free(ck);
        return -1;
    }
    job_head jh = {.job_id = id, .time_limit = m->o->job_time_limit, .ckpt = nck, .cfg = *c};
    put(msg, &jh, sizeof jh);
    put(msg, ck, nck);
    free(ck);
    *job_id = id;
    return msg->oom ? -1 : 0;
}

static void dispatch(master *m)
{
    for (int r = 0; r < m->nranks && m->next < m->npending && !m->stopping; r++) {
        if (m->slots[r].job_id)
            continue;
        buf msg = {0};
        long id;
        if (next_job(m, r, &msg, &id) != 0) {
            free(msg.p);
            m->error = 1;
            return;
        }
        m->slots[r] = (slot){id, now()};
        if (r == 0) {
            pthread_mutex_lock(&m->loc.mu);
            m->loc.job = msg.p;
            m->loc.job_len = msg.n;
            pthread_cond_signal(&m->loc.cv);
            pthread_mutex_unlock(&m->loc.mu);
        } else {
            MPI_Send(msg.p, (int)msg.n, MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD);
            free(msg.p);
        }
    }
}

/* Unpack a result message and write it in one transaction. */
static void handle_result(master *m, const unsigned char *p, size_t n)
{
    res_head rh;
    if (n < sizeof rh) {
        m->error = 1;
        return;
    }
    memcpy(&rh, p, sizeof rh);
    const size_t need = sizeof rh + rh.ncurve * sizeof(train_curve_row) +
                        rh.nlyap * sizeof(train_lyap_row) + rh.nweights * sizeof(double) + rh.ckpt;
    if (need != n) {
        fprintf(stderr, "rnnsweep sweep: malformed result from rank %d\n", rh.rank);
        m->error = 1;
        return;
    }
    /* The message comes from malloc (aligned for any type) and every section
     * is a multiple of 8 bytes long, so the arrays can be read in place. */
    const unsigned char *q = p + sizeof rh;
    const train_curve_row *curve = (const train_curve_row *)q;
    q += rh.ncurve * sizeof *curve;
    const train_lyap_row *lyap = (const train_lyap_row *)q;
    q += rh.nlyap * sizeof *lyap;
    rnn_params wp;
    if (rh.nweights)
        rnn_params_wrap(&wp, rh.N, rh.I, rh.O, (double *)q); /* read only */
    q += rh.nweights * sizeof(double);
    store_result r = {.job_id = rh.job_id, .status = rh.status, .host = rh.host, .rank = rh.rank,
                      .wall_seconds = rh.wall, .final_loss = rh.final_loss,
                      .final_accuracy = rh.final_acc, .error = rh.error[0] ? rh.error : NULL,
                      .curve = curve, .ncurve = rh.ncurve, .lyap = lyap, .nlyap = rh.nlyap,
                      .weights = rh.nweights && m->o->save_weights ? &wp : NULL,
                      .checkpoint = rh.ckpt ? q : NULL, .checkpoint_size = rh.ckpt};
    if (store_result_put(m->st, &r) != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: database: %s\n", store_errmsg(m->st));
        m->error = 1;
    } else {
        if (rh.status == JOB_PENDING)
            m->interrupted_jobs++;
        else if (rh.status == JOB_FAILED)
            m->failed++;
        else
            m->done++;
    }
    if (rh.interrupted)
        m->stopping = 1;
    m->slots[rh.rank].job_id = 0;
}

/* Collect finished results; returns how many arrived. */
static int collect(master *m)
{
    int got = 0;
    pthread_mutex_lock(&m->loc.mu);
    if (m->loc.has_result) {
        buf r = m->loc.result;
        m->loc.has_result = 0;
        pthread_mutex_unlock(&m->loc.mu);
        if (r.oom)
            m->error = 1;
        else
            handle_result(m, r.p, r.n);
        free(r.p);
        got++;
    } else {
        pthread_mutex_unlock(&m->loc.mu);
    }
    for (;;) {
        int flag = 0;
        MPI_Status s;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &s);
        if (!flag)
            break;
        int n;
        MPI_Get_count(&s, MPI_BYTE, &n);
        unsigned char *msg = malloc(n > 0 ? (size_t)n : 1);
        if (!msg) {
            m->error = 1;
            break;
        }
        MPI_Recv(msg, n, MPI_BYTE, s.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        handle_result(m, msg, (size_t)n);
        free(msg);
        got++;
    }
    return got;
}

static int busy(const master *m)
{
    int b = 0;
    for (int r = 0; r < m->nranks; r++)
        b += m->slots[r].job_id != 0;
    return b;
}

static void fmt_duration(double s, char *out, size_t n)
{
    if (!isfinite(s) || s < 0)
        snprintf(out, n, "?");
    else if (s < 120)
        snprintf(out, n, "%.0fs", s);
    else if (s < 7200)
        snprintf(out, n, "%.0fm%02.0fs", floor(s / 60), fmod(s, 60));
    else
        snprintf(out, n, "%.0fh%02.0fm", floor(s / 3600), fmod(s / 60, 60));
}

static void progress(master *m, int force)
{
    const double t = now();
    if (!force && (m->o->progress <= 0 || t - m->last_progress < m->o->progress))
        return;
    m->last_progress = t;
    const double mins = (t - m->t0) / 60.0;
    const double rate = mins > 0 ? (m->done + m->failed) / mins : 0;
    const size_t left = m->npending - m->next + (size_t)busy(m);
    char eta[32];
    fmt_duration(rate > 0 ? left / rate * 60.0 : NAN, eta, sizeof eta);
    fprintf(stderr, "[sweep] %zu/%zu finished, %d running, %zu failed | %.1f jobs/min | ETA %s\n",
            m->finished_before + m->done + m->failed, m->total, busy(m), m->failed, rate, eta);
}

static void interrupt_all(master *m)
{
    m->loc.interrupt = 1;
    for (int r = 1; r < m->nranks; r++)
        if (m->slots[r].job_id) {
            char z = 0;
            MPI_Send(&z, 1, MPI_BYTE, r, TAG_INTERRUPT, MPI_COMM_WORLD);
        }
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
    size_t counts[6];
    if (store_pending(st, sweep_id, &m.ids, &m.cfgs, &m.npending) != STORE_OK ||
        store_sweep_counts(st, sweep_id, counts) != STORE_OK) {
        fprintf(stderr, "rnnsweep sweep: database: %s\n", store_errmsg(st));
        return FARM_ERROR;
    }
    for (int s = 0; s < 6; s++)
        m.total += counts[s];
    m.finished_before = m.total - counts[JOB_PENDING] - counts[JOB_RUNNING];
    m.slots = calloc((size_t)nranks, sizeof *m.slots);
    if (!m.slots || sort_pending(&m) != 0) {
        free(m.slots), free(m.ids), free(m.cfgs);
        return FARM_ERROR;
    }
    m.loc.host = hosts;
    pthread_mutex_init(&m.loc.mu, NULL);
    pthread_cond_init(&m.loc.cv, NULL);
    if (pthread_create(&m.loc.thread, NULL, local_main, &m.loc) != 0) {
        free(m.slots), free(m.ids), free(m.cfgs);
        return FARM_ERROR;
    }
    m.t0 = m.last_progress = now();
    fprintf(stderr, "[sweep] %zu jobs, %zu pending, %zu finished earlier; %d rank(s)\n", m.total,
            m.npending, m.finished_before, nranks);
    double pause = 0.0005, deadline = 0;
    int rc = FARM_DONE;
    for (;;) {
        if (got_signal && !m.stopping)
            m.stopping = 1;
        if (m.stopping && deadline == 0) {
            fprintf(stderr, "[sweep] signal received: no new jobs; waiting up to %g s for %d "
                            "running job(s) to checkpoint\n", o->grace, busy(&m));
            interrupt_all(&m);
            deadline = now() + o->grace;
        }
        if (m.error)
            break;
        dispatch(&m);
        const int got = collect(&m);
        progress(&m, 0);
        if (busy(&m) == 0 && (m.stopping || m.next >= m.npending))
            break;
        if (m.stopping && now() > deadline) {
            fprintf(stderr, "[sweep] grace period over with %d job(s) still running; they will "
                            "restart on the next launch\n", busy(&m));
            rc = FARM_ABANDONED;
            break;
        }
        if (got) {
            pause = 0.0005;
        } else {
            nap(pause);
            if (pause < 0.004)
                pause *= 2;
        }
    }
    if (m.error)
        rc = FARM_ERROR;
    else if (rc == FARM_DONE && (m.stopping || m.next < m.npending))
        rc = FARM_INTERRUPTED;
    progress(&m, 1);
    /* Stop the local thread (if it is still running a job, abandon it: the caller aborts). */
    pthread_mutex_lock(&m.loc.mu);
    m.loc.quit = 1;
    pthread_cond_signal(&m.loc.cv);
    pthread_mutex_unlock(&m.loc.mu);
    if (m.slots[0].job_id == 0)
        pthread_join(m.loc.thread, NULL);
    if (rc != FARM_ABANDONED && rc != FARM_ERROR) {
        int32_t code = rc;
        for (int r = 1; r < nranks; r++)
            MPI_Send(&code, sizeof code, MPI_BYTE, r, TAG_STOP, MPI_COMM_WORLD);
    }
    *done = m.done + m.failed; /* finished by this launch; checkpointed ones are not */
    free(m.slots), free(m.ids), free(m.cfgs);
    return rc;
}
