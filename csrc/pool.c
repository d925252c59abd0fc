/* The core's thread pool: nc_parallel runs the units of a job on the calling thread and on
 * whichever workers are awake, and returns when every unit is done.
 *
 * Why not a fork/join region: a join waits for every thread of the team, also one the OS
 * has not scheduled yet. With another process busy on a core that thread runs
 * milliseconds late, and a step of a few tens of microseconds waits for it. Here a job's
 * units are claimed from one shared counter; the caller claims them too, so a worker that
 * wakes late finds nothing left and goes back to sleep, and nobody waited for it. Only a
 * worker preempted in the middle of a unit it claimed is waited for, which small units
 * make rare.
 *
 * The job word. One 64-bit atomic holds the job's generation, its unit count and the next
 * unit to claim; a claim is a compare-and-swap of the whole word. A worker reads the
 * job's function, context and thread limit, then claims: if the job was replaced in
 * between, the generation differs and the claim fails, so a late worker can never run a
 * unit of a new job with the old job's function. A successful claim proves the job was
 * still unfinished, so its caller is still waiting inside nc_parallel and the context
 * (usually on the caller's stack) is alive. Jobs of more units than the word can count
 * are claimed in runs of consecutive units.
 *
 * Waiting. An idle worker spins for SPIN_NS (pause, then yield), then sleeps on a futex
 * (a condition variable off Linux); the caller makes the wake-up call only when some
 * worker is asleep. The caller, once no unit is left to claim, likewise spins briefly and
 * then sleeps until the last unit is done.
 *
 * One caller at a time owns the pool; a call made while it is owned (a unit that calls
 * nc_parallel, or a second application thread) runs its units inline on its own thread.
 * Workers are started lazily, up to the thread setting minus one, and never stopped; a
 * child process after fork() starts with an empty pool. Slot 0 is the caller, slot s > 0
 * is worker s: a unit's scratch indexed by its slot is used by one thread at a time. */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#endif
#if NC_X86
#include <immintrin.h>
#define CPU_RELAX() _mm_pause()
#else
#define CPU_RELAX() ((void)0)
#endif

/* Job word: generation (24 bits) | unit count (20 bits) | next unit (20 bits). */
#define UNIT_BITS 20
#define UNIT_MASK ((UINT64_C(1) << UNIT_BITS) - 1)
#define GEN_SHIFT (2 * UNIT_BITS)
#define GEN_MASK ((UINT64_C(1) << (64 - GEN_SHIFT)) - 1)
#define JOB_GEN(w) (((w) >> GEN_SHIFT) & GEN_MASK)
#define JOB_UNITS(w) (((w) >> UNIT_BITS) & UNIT_MASK)
#define JOB_NEXT(w) ((w) & UNIT_MASK)

/* Idle spinning before sleeping: long enough to bridge the gap between the kernel calls
 * of a training step, short enough that a worker on a shared core gives it back soon.
 * The first half pauses, the second yields the core to anything else runnable. */
#define SPIN_NS 40000
#define PAUSE_NS 20000

#define MAX_WORKERS (NC_MAX_THREADS - 1)

struct pool {
    _Alignas(64) _Atomic uint64_t job;
    /* the current job; written by the owner only while no job is live */
    _Atomic(nc_task) fn;
    _Atomic(void *) ctx;
    _Atomic int max_threads;
    _Atomic int64_t per_claim; /* units run by one claim */
    _Atomic int64_t total;     /* units of the job */
    _Alignas(64) _Atomic uint32_t done; /* claims finished; the owner sleeps on it */
    _Atomic uint32_t owner_sleeps;
    _Alignas(64) _Atomic uint32_t wake; /* bumped to wake sleeping workers */
    _Atomic int sleepers;
    _Alignas(64) _Atomic int owned;
    /* the owner's alone */
    int workers;         /* started */
    int64_t solo_until;  /* run jobs inline until this time (ns) */
    int strikes;         /* jobs in a row that workers made slower */
};

static struct pool pool;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

/* ---------------------------------------------------------------- sleeping */

#ifdef __linux__
static void wait_while(_Atomic uint32_t *addr, uint32_t val)
{
    /* returns at once when *addr no longer holds val; spurious returns are re-checked by
     * the callers' loops */
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void wake_all(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}
#else
static pthread_mutex_t sleep_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sleep_cond = PTHREAD_COND_INITIALIZER;

static void wait_while(_Atomic uint32_t *addr, uint32_t val)
{
    pthread_mutex_lock(&sleep_lock);
    if (atomic_load(addr) == val) pthread_cond_wait(&sleep_cond, &sleep_lock);
    pthread_mutex_unlock(&sleep_lock);
}

static void wake_all(_Atomic uint32_t *addr)
{
    (void)addr;
    pthread_mutex_lock(&sleep_lock);
    pthread_cond_broadcast(&sleep_cond);
    pthread_mutex_unlock(&sleep_lock);
}
#endif

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Spin until *addr != val or SPIN_NS pass; returns 1 when it changed. */
static int spin_while32(_Atomic uint32_t *addr, uint32_t val)
{
    int64_t t0 = now_ns(), t = t0;
    while (t - t0 < SPIN_NS) {
        for (int i = 0; i < 32; i++) {
            if (atomic_load_explicit(addr, memory_order_acquire) != val) return 1;
            CPU_RELAX();
        }
        t = now_ns();
        if (t - t0 >= PAUSE_NS) sched_yield();
    }
    return 0;
}

/* ---------------------------------------------------------------- running units */

/* Claim and run units of the job read as w until none is left; returns w's generation
 * and adds the claims run to *ran. */
static uint64_t run_units(uint64_t w, int slot, int64_t *ran)
{
    uint64_t gen = JOB_GEN(w);
    while (JOB_GEN(w) == gen && JOB_NEXT(w) < JOB_UNITS(w)) {
        nc_task fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
        int maxt = atomic_load_explicit(&pool.max_threads, memory_order_relaxed);
        int64_t per = atomic_load_explicit(&pool.per_claim, memory_order_relaxed);
        int64_t total = atomic_load_explicit(&pool.total, memory_order_relaxed);
        if (slot >= maxt) break;
        if (!atomic_compare_exchange_weak_explicit(&pool.job, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue;
        /* claim JOB_NEXT(w) of job `gen` is ours: the fields read above are its own */
        int64_t u0 = (int64_t)JOB_NEXT(w) * per, u1 = NC_MIN(total, u0 + per);
        for (int64_t u = u0; u < u1; u++) fn(ctx, u, slot);
        (*ran)++;
        /* seq_cst against the owner's flag-then-check: it sleeps only if it would see us */
        uint32_t d = atomic_fetch_add(&pool.done, 1) + 1;
        if (d == (uint32_t)JOB_UNITS(w) && atomic_load(&pool.owner_sleeps)) wake_all(&pool.done);
        w = atomic_load_explicit(&pool.job, memory_order_acquire);
    }
    return gen;
}

static void *worker_main(void *arg)
{
    int slot = (int)(intptr_t)arg;
    uint64_t seen = GEN_MASK + 1; /* no generation: look at the job live now */
    int64_t ran = 0;
    for (;;) {
        uint64_t w = atomic_load_explicit(&pool.job, memory_order_acquire);
        if (JOB_GEN(w) != seen) {
            seen = run_units(w, slot, &ran);
            continue;
        }
        /* idle: spin, then sleep until the owner publishes a new job */
        int64_t t0 = now_ns(), t = t0;
        int changed = 0;
        while (!changed && t - t0 < SPIN_NS) {
            for (int i = 0; i < 32; i++) {
                if (JOB_GEN(atomic_load_explicit(&pool.job, memory_order_acquire)) != seen) {
                    changed = 1;
                    break;
                }
                CPU_RELAX();
            }
            t = now_ns();
            if (!changed && t - t0 >= PAUSE_NS) sched_yield();
        }
        if (changed) continue;
        uint32_t e = atomic_load(&pool.wake);
        atomic_fetch_add(&pool.sleepers, 1);
        /* the owner stores the job word, then reads sleepers; we did the reverse, so
         * either it sees us asleep and wakes us, or we see its job here */
        if (JOB_GEN(atomic_load(&pool.job)) == seen) wait_while(&pool.wake, e);
        atomic_fetch_sub(&pool.sleepers, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------- ownership, fork */

static void reset_after_fork(void)
{
    /* the child has only the thread that forked: no workers, no job, no owner */
    uint64_t w = atomic_load(&pool.job);
    atomic_store(&pool.job, JOB_GEN(w) << GEN_SHIFT);
    atomic_store(&pool.done, 0);
    atomic_store(&pool.owner_sleeps, 0);
    atomic_store(&pool.sleepers, 0);
    atomic_store(&pool.owned, 0);
    pool.workers = 0;
    pool.solo_until = 0;
    pool.strikes = 0;
}

static void pool_init(void)
{
    pthread_atfork(NULL, NULL, reset_after_fork);
}

/* Start workers until `want` exist (or creation fails); returns how many exist. */
static int start_workers(int want)
{
    if (want > MAX_WORKERS) want = MAX_WORKERS;
    if (pool.workers >= want) return pool.workers;
    /* workers take no signals: they go to the application's own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (pool.workers < want) {
        pthread_t th;
        if (pthread_create(&th, &attr, worker_main, (void *)(intptr_t)(pool.workers + 1)))
            break;
        pool.workers++;
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pool.workers;
}

/* A worker preempted in the middle of a unit makes the caller wait until the OS runs it
 * again, which on a machine with more runnable threads than cores can be milliseconds,
 * again and again. After a job that took longer than the caller alone would have (its
 * own pace over all the claims) by more than STALL_NS, the pool runs jobs inline for
 * SOLO_FACTOR times that excess, doubled for each such job in a row (at most
 * SOLO_MAX_NS), then tries its workers again; a job with no such wait resets the count.
 * A quiet machine never triggers it; a busy one loses at most a fraction of what
 * threads would have saved. */
#define STALL_NS 50000
#define SOLO_FACTOR 4
#define SOLO_MAX_NS 200000000

static void note_wait(int64_t t0, int64_t t1, int64_t t2, int64_t mine, int64_t claims)
{
    /* t0..t1: the caller ran `mine` claims; t1..t2: it waited for the others */
    int64_t alone = mine > 0 ? (t1 - t0) / mine * claims : 0;
    int64_t excess = (t2 - t0) - alone;
    if (mine == 0 || excess < STALL_NS) {
        pool.strikes = 0;
        return;
    }
    int64_t solo = excess * SOLO_FACTOR << NC_MIN(pool.strikes, 10);
    pool.solo_until = t2 + NC_MIN(solo, (int64_t)SOLO_MAX_NS);
    pool.strikes++;
}

static void run_inline(nc_task fn, void *ctx, int64_t units)
{
    for (int64_t u = 0; u < units; u++) fn(ctx, u, 0);
}

void nc_parallel(nc_task fn, void *ctx, int64_t units, int max_threads)
{
    if (units <= 0) return;
    int nt = NC_MIN(max_threads, nc_get_num_threads());
    if (units < nt) nt = (int)units;
    if (nt <= 1) {
        run_inline(fn, ctx, units);
        return;
    }
    pthread_once(&pool_once, pool_init);
    int free_ = 0;
    if (!atomic_compare_exchange_strong(&pool.owned, &free_, 1)) {
        run_inline(fn, ctx, units);
        return;
    }
    nt = NC_MIN(nt, start_workers(nt - 1) + 1);
    if (nt <= 1 || (pool.solo_until && now_ns() < pool.solo_until)) {
        atomic_store_explicit(&pool.owned, 0, memory_order_release);
        run_inline(fn, ctx, units);
        return;
    }
    int64_t per = (units + (int64_t)UNIT_MASK - 1) / (int64_t)UNIT_MASK;
    uint64_t claims = (uint64_t)((units + per - 1) / per);

    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.max_threads, nt, memory_order_relaxed);
    atomic_store_explicit(&pool.per_claim, per, memory_order_relaxed);
    atomic_store_explicit(&pool.total, units, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint64_t gen = (JOB_GEN(atomic_load(&pool.job)) + 1) & GEN_MASK;
    uint64_t w = gen << GEN_SHIFT | claims << UNIT_BITS;
    atomic_store(&pool.job, w); /* publishes the fields above with it */
    if (atomic_load(&pool.sleepers) > 0) {
        atomic_fetch_add(&pool.wake, 1);
        wake_all(&pool.wake);
    }

    int64_t t0 = now_ns(), mine = 0;
    run_units(w, 0, &mine);
    int64_t t1 = now_ns();

    /* every unit is claimed; wait for the ones still running elsewhere */
    for (;;) {
        uint32_t d = atomic_load_explicit(&pool.done, memory_order_acquire);
        if (d == (uint32_t)claims) break;
        if (spin_while32(&pool.done, d)) continue;
        atomic_store(&pool.owner_sleeps, 1);
        if (atomic_load(&pool.done) == d) wait_while(&pool.done, d);
        atomic_store(&pool.owner_sleeps, 0);
    }
    if (mine < (int64_t)claims) note_wait(t0, t1, now_ns(), mine, (int64_t)claims);
    atomic_store_explicit(&pool.owned, 0, memory_order_release);
}

int nc_pool_workers(void)
{
    return pool.workers;
}

/* ---------------------------------------------------------------- probe (tests) */

typedef struct {
    int64_t *hits;
    int32_t *slots;
    int64_t spin;
    int max_threads, nested;
    _Atomic int busy[NC_MAX_THREADS];
    _Atomic int64_t bad;
} probe_job;

static void probe_inner(void *arg, int64_t u, int slot)
{
    int *ran = arg;
    ran[u] += 1 + (slot != 0) * 100; /* a nested call runs inline, on slot 0 */
}

static void probe_unit(void *arg, int64_t u, int slot)
{
    probe_job *j = arg;
    if (slot < 0 || slot >= j->max_threads) {
        atomic_fetch_add(&j->bad, 1);
        return;
    }
    if (atomic_exchange(&j->busy[slot], 1)) atomic_fetch_add(&j->bad, 1);
    j->hits[u] += 1;
    j->slots[u] = slot;
    for (volatile int64_t i = 0; i < j->spin; i++) {
    }
    if (j->nested) {
        int ran[4] = {0, 0, 0, 0};
        nc_parallel(probe_inner, ran, 4, 4);
        for (int i = 0; i < 4; i++)
            if (ran[i] != 1) atomic_fetch_add(&j->bad, 1);
    }
    atomic_store(&j->busy[slot], 0);
}

int64_t nc_pool_probe(int64_t *hits, int32_t *slots, int64_t units, int max_threads,
                      int64_t spin, int nested, int *workers)
{
    probe_job j = {.hits = hits, .slots = slots, .spin = spin,
                   .max_threads = NC_MAX(1, NC_MIN(max_threads, NC_MAX_THREADS)),
                   .nested = nested};
    for (int i = 0; i < NC_MAX_THREADS; i++) atomic_init(&j.busy[i], 0);
    atomic_init(&j.bad, 0);
    nc_parallel(probe_unit, &j, units, j.max_threads);
    if (workers) *workers = pool.workers;
    return atomic_load(&j.bad);
}
