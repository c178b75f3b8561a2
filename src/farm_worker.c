/* farm_worker.c — the worker side of the farm: signals, one job from its
 * message to its result message, worker ranks, and rank 0's worker thread.
 *
 * A worker trains one job at a time.  While it trains it sends the rows
 * recorded since its last message every `flush` seconds (TAG_PROGRESS), so
 * a running job can be watched in the database; it stops at the next
 * iteration when the master interrupts it or a signal arrives, and then
 * returns a checkpoint in its result.  Ranks > 0 talk MPI (only from their
 * main thread); rank 0's thread hands the same packed messages over through
 * a mailbox, since only rank 0's main thread calls MPI (MPI_THREAD_FUNNELED).
 */
#include "farm_int.h"
#include "rnnsweep/clock.h"

#include <math.h>
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_int farm_got_signal;

static void on_signal(int sig)
{
    atomic_store(&farm_got_signal, sig);
}

void farm_signals_install(void)
{
    /* SIGHUP (an ssh session that hangs up) and SIGPIPE (`| head` closing
     * our output) would otherwise kill the launch without a checkpoint. */
    static const int sigs[] = {SIGTERM, SIGINT, SIGUSR1, SIGHUP, SIGPIPE};
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, NULL);
}

/* ---- one job ---- */

typedef struct job_ctx {
    int (*interrupted)(void *arg);                         /* master asked to stop */
    void (*send)(void *arg, const unsigned char *p, size_t n); /* a progress message */
    void *arg;
    const train_job *j;
    int64_t job_id;
    int rank;
    double flush, last_flush;
    size_t sent_curve, sent_lyap, sent_diag; /* rows already sent */
} job_ctx;

/* Send the rows recorded since the last progress message. */
static void send_progress(job_ctx *c)
{
    size_t nc, nl, nd;
    const train_curve_row *curve = train_curve(c->j, &nc);
    const train_lyap_row *lyap = train_lyap(c->j, &nl);
    const train_diag_row *diag = train_diag(c->j, &nd);
    if (nc < c->sent_curve || nl < c->sent_lyap || nd < c->sent_diag) /* cannot happen */
        return;
    prog_head h = {.job_id = c->job_id, .iter = train_iter(c->j), .rank = c->rank,
                   .ncurve = nc - c->sent_curve, .nlyap = nl - c->sent_lyap,
                   .ndiag = nd - c->sent_diag};
    farm_buf b = {0};
    farm_put(&b, &h, sizeof h);
    farm_put(&b, curve + c->sent_curve, h.ncurve * sizeof *curve);
    farm_put(&b, lyap + c->sent_lyap, h.nlyap * sizeof *lyap);
    farm_put(&b, diag + c->sent_diag, h.ndiag * sizeof *diag);
    if (!b.oom && b.n <= FARM_MAX_MSG) {
        c->send(c->arg, b.p, b.n);
        c->sent_curve = nc;
        c->sent_lyap = nl;
        c->sent_diag = nd;
    }
    free(b.p);
}

static int job_progress(void *ctx, int phase, long it, long total, double loss)
{
    (void)phase, (void)it, (void)total, (void)loss;
    job_ctx *c = ctx;
    if (c->flush > 0) {
        const double t = clock_now();
        if (t - c->last_flush >= c->flush) {
            c->last_flush = t;
            send_progress(c);
        }
    }
    return atomic_load(&farm_got_signal) || c->interrupted(c->arg);
}

#ifdef RNNSWEEP_TEST_HOOKS
/* Test builds only (rnnsweep-testhooks): a job whose seed equals
 * RNNSWEEP_TEST_CRASH_SEED kills its whole process, as a segfaulting job
 * would kill its launch. */
static void test_crash(const config *c)
{
    const char *s = getenv("RNNSWEEP_TEST_CRASH_SEED");
    if (s && *s && atol(s) == c->seed)
        raise(SIGKILL);
}
#else
static void test_crash(const config *c)
{
    (void)c;
}
#endif

/* A result that carries only its head (status, error). */
static void put_head_only(farm_buf *out, res_head *rh)
{
    rh->ncurve = rh->nlyap = rh->ndiag = rh->nweights = rh->ckpt = 0;
    out->n = 0;
    out->oom = 0;
    farm_put(out, rh, sizeof *rh);
}

/* Run the job of message msg (len bytes) and pack its result into out. */
static void run_job(const unsigned char *msg, size_t len, int rank, const char *host,
                    job_ctx *ctx, farm_buf *out)
{
    job_head jh;
    res_head rh;
    memset(&rh, 0, sizeof rh);
    rh.rank = rank;
    snprintf(rh.host, sizeof rh.host, "%s", host);
    rh.val_loss = rh.val_acc = rh.test_loss = rh.test_acc = NAN;
    if (len < sizeof jh) {
        rh.status = JOB_FAILED;
        snprintf(rh.error, sizeof rh.error, "malformed job message of %zu bytes", len);
        put_head_only(out, &rh);
        return;
    }
    memcpy(&jh, msg, sizeof jh);
    rh.job_id = jh.job_id;
    char err[256];
    const double t0 = clock_now();
    test_crash(&jh.cfg);
    train_job *j = train_alloc(&jh.cfg, err);
    if (!j) {
        rh.status = JOB_FAILED;
        snprintf(rh.error, sizeof rh.error, "%s", err);
        put_head_only(out, &rh);
        return;
    }
    if (jh.ckpt) {
        char note[256] = "message shorter than its checkpoint";
        if (sizeof jh + jh.ckpt != len ||
            train_checkpoint_load(j, msg + sizeof jh, jh.ckpt, note) != 0)
            snprintf(rh.error, sizeof rh.error, "checkpoint unusable (%.200s); job restarted", note);
        else if (note[0])
            snprintf(rh.error, sizeof rh.error, "%s", note);
    }
    ctx->j = j;
    ctx->job_id = jh.job_id;
    ctx->rank = rank;
    ctx->flush = jh.flush;
    ctx->last_flush = t0;
    ctx->sent_curve = ctx->sent_lyap = ctx->sent_diag = 0;
    train_hooks h = {.ctx = ctx, .progress = job_progress, .time_limit = jh.time_limit};
    const int st = train_run(j, &h);
    rh.wall = clock_now() - t0;
    static const int map[] = {[TRAIN_DONE] = JOB_DONE, [TRAIN_DIVERGED] = JOB_DIVERGED,
                              [TRAIN_STOPPED] = JOB_PENDING, [TRAIN_TIMEOUT] = JOB_TIMEOUT};
    rh.status = map[st];
    rh.interrupted = st == TRAIN_STOPPED;
    const rnn_params *p = train_params(j);
    if (st == TRAIN_DONE || st == TRAIN_TIMEOUT) {
        train_eval ev;
        train_evaluate(j, &ev);
        rh.val_loss = ev.val_loss;
        rh.val_acc = ev.val_accuracy;
        rh.test_loss = ev.test_loss;
        rh.test_acc = ev.test_accuracy;
        rh.nweights = p->size;
    }
    if (st == TRAIN_DIVERGED)
        snprintf(rh.error, sizeof rh.error, "non-finite loss at iteration %ld", train_iter(j));
    if (st == TRAIN_TIMEOUT)
        snprintf(rh.error, sizeof rh.error, "job time limit of %g s reached at iteration %ld",
                 jh.time_limit, train_iter(j));
    size_t nc, nl, nd;
    const train_curve_row *curve = train_curve(j, &nc);
    const train_lyap_row *lyap = train_lyap(j, &nl);
    const train_diag_row *diag = train_diag(j, &nd);
    rh.ncurve = nc;
    rh.nlyap = nl;
    rh.ndiag = nd;
    rh.N = p->N, rh.I = p->I, rh.O = p->O;
    unsigned char *ck = NULL;
    if (st == TRAIN_STOPPED) {
        rh.ckpt = train_checkpoint_size(j);
        ck = malloc(rh.ckpt);
        if (!ck || train_checkpoint_save(j, ck, rh.ckpt) != 0) {
            rh.ckpt = 0; /* the store keeps the job's earlier checkpoint, if any */
            snprintf(rh.error, sizeof rh.error, "out of memory for the checkpoint: the job resumes "
                                                "from its previous checkpoint, or from the start");
        }
    }
    farm_put(out, &rh, sizeof rh);
    farm_put(out, curve, nc * sizeof *curve);
    farm_put(out, lyap, nl * sizeof *lyap);
    farm_put(out, diag, nd * sizeof *diag);
    farm_put(out, p->data, rh.nweights * sizeof(double));
    farm_put(out, ck, rh.ckpt);
    if (!out->oom && out->n > FARM_MAX_MSG) {
        /* Validation refuses sizes this large; never send a truncated count. */
        char why[128];
        snprintf(why, sizeof why, "result of %zu bytes exceeds MPI's message limit", out->n);
        rh.status = JOB_FAILED;
        rh.interrupted = 0;
        snprintf(rh.error, sizeof rh.error, "%s", why);
        put_head_only(out, &rh);
    }
    free(ck);
    train_free(j);
}

/* ---- worker ranks ---- */

static double last_probe;

static int mpi_interrupted(void *arg)
{
    (void)arg;
    const double t = clock_now();
    if (t - last_probe < 0.05)
        return 0;
    last_probe = t;
    int flag = 0;
    MPI_Status s;
    if (farm_mpi(MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s), "Iprobe"))
        return 1; /* cannot hear the master: stop and hand the checkpoint back */
    return flag && (s.MPI_TAG == TAG_INTERRUPT || s.MPI_TAG == TAG_STOP);
}

static void mpi_send_progress(void *arg, const unsigned char *p, size_t n)
{
    (void)arg;
    farm_mpi(MPI_Send(p, (int)n, MPI_BYTE, 0, TAG_PROGRESS, MPI_COMM_WORLD), "Send progress");
}

int farm_worker(void)
{
    int rank, len;
    char host[MPI_MAX_PROCESSOR_NAME];
    if (farm_mpi(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "Comm_rank") ||
        farm_mpi(MPI_Get_processor_name(host, &len), "Get_processor_name"))
        return FARM_ERROR;
    int told = 0; /* the master knows of our signal */
    for (;;) {
        MPI_Status s;
        int flag = 0;
        double pause = 0.0005;
        while (!flag) {
            if (farm_mpi(MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &s), "Iprobe"))
                return FARM_ERROR;
            int sig = atomic_load(&farm_got_signal);
            if (!flag && sig && !told) {
                int32_t v = sig;
                if (farm_mpi(MPI_Send(&v, sizeof v, MPI_BYTE, 0, TAG_SIGNAL, MPI_COMM_WORLD),
                             "Send signal"))
                    return FARM_ERROR;
                told = 1;
            }
            if (!flag) {
                clock_sleep(pause);
                if (pause < 0.004)
                    pause *= 2;
            }
        }
        int n;
        if (farm_mpi(MPI_Get_count(&s, MPI_BYTE, &n), "Get_count") || n < 0)
            return FARM_ERROR;
        unsigned char *msg = malloc(n > 0 ? (size_t)n : 1);
        if (!msg)
            return FARM_ERROR;
        if (farm_mpi(MPI_Recv(msg, n, MPI_BYTE, 0, s.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                     "Recv")) {
            free(msg);
            return FARM_ERROR;
        }
        if (s.MPI_TAG == TAG_STOP) {
            int32_t code = FARM_ERROR;
            if (n >= (int)sizeof code)
                memcpy(&code, msg, sizeof code);
            free(msg);
            return code;
        }
        if (s.MPI_TAG == TAG_JOB) {
            farm_buf out = {0};
            job_ctx ctx = {.interrupted = mpi_interrupted, .send = mpi_send_progress};
            run_job(msg, (size_t)n, rank, host, &ctx, &out);
            told |= atomic_load(&farm_got_signal) != 0; /* the result says it */
            int bad = out.oom ||
                      farm_mpi(MPI_Send(out.p, (int)out.n, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD),
                               "Send result");
            free(out.p);
            if (bad) {
                free(msg);
                return FARM_ERROR;
            }
        }
        free(msg); /* a late TAG_INTERRUPT is dropped */
    }
}

/* ---- rank 0's worker thread ---- */

static int local_interrupted(void *arg)
{
    return atomic_load(&((farm_local *)arg)->interrupt);
}

static void local_send_progress(void *arg, const unsigned char *p, size_t n)
{
    farm_local *l = arg;
    uint64_t len = n;
    pthread_mutex_lock(&l->mu);
    farm_put(&l->progress, &len, sizeof len);
    farm_put(&l->progress, p, n);
    pthread_mutex_unlock(&l->mu);
}

static void *local_main(void *arg)
{
    farm_local *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->job && !l->quit)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit)
            break;
        unsigned char *job = l->job;
        size_t len = l->job_len;
        pthread_mutex_unlock(&l->mu);
        farm_buf out = {0};
        job_ctx ctx = {.interrupted = local_interrupted, .send = local_send_progress, .arg = l};
        run_job(job, len, 0, l->host, &ctx, &out);
        free(job);
        pthread_mutex_lock(&l->mu);
        l->job = NULL;
        l->result = out;
        l->has_result = 1;
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

farm_local *farm_local_start(const char *host)
{
    farm_local *l = calloc(1, sizeof *l);
    if (!l)
        return NULL;
    snprintf(l->host, sizeof l->host, "%s", host);
    atomic_init(&l->interrupt, 0);
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return NULL;
    }
    if (pthread_cond_init(&l->cv, NULL) != 0) {
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    if (pthread_create(&l->thread, NULL, local_main, l) != 0) {
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l);
        return NULL;
    }
    return l;
}

void farm_local_stop(farm_local *l, int join)
{
    pthread_mutex_lock(&l->mu);
    l->quit = 1;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (join) {
        pthread_join(l->thread, NULL);
        free(l->progress.p);
        free(l->result.p);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
        free(l);
    }
}

int farm_local_take(farm_local *l, farm_buf *result, farm_buf *progress)
{
    pthread_mutex_lock(&l->mu);
    int has = l->has_result;
    if (has) {
        *result = l->result;
        memset(&l->result, 0, sizeof l->result);
        l->has_result = 0;
    }
    *progress = l->progress;
    memset(&l->progress, 0, sizeof l->progress);
    pthread_mutex_unlock(&l->mu);
    return has;
}
