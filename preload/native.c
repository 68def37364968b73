/* preload/native.c — below Python: the loaded objects, crash reports and CPU samples.
 *
 * Native stacks are raw instruction pointers from symbols/capture (libunwind); glass-report
 * resolves them. Everything that runs in a signal handler here is async-signal-safe: no malloc,
 * no locks, no stdio; a fault while we unwind jumps back out (the probe below) instead of
 * hiding the host's own crash.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "glass.h"
#include "policy/policy.h"
#include "symbols/capture.h"

#define ALTSTACK_SIZE (64u << 10)

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
#define NCRASH (int)(sizeof(crash_signals) / sizeof(crash_signals[0]))

static struct {
	int on; /* symbols/capture is set up */
	int crash_on;
	struct sigaction prev[NCRASH];
	int sample_sig; /* 0: sampling off */
	uint32_t sample_hz;
	int sample_wall;
} N;

/* Per-thread state of this file (initial-exec TLS, beside T). */
struct native_thread {
	timer_t timer;
	int timer_ok;
	uint32_t timer_pid; /* process that created the timer (fork does not inherit it) */
	void *altstack;
	volatile int probing; /* inside our unwinder: a fault jumps back to probe */
	volatile int crashing;
	uint64_t missed;
	uint32_t skip; /* samples to drop: the last one took long (see sample_handler) */
	int warm; /* libunwind's trace cache of this thread exists (fast unwinding) */
	void *probe[5]; /* __builtin_setjmp buffer */
};
static __thread struct native_thread NT __attribute__((tls_model("initial-exec")));

/* ---- loaded objects ------------------------------------------------------------------------ */

struct obj_batch {
	char buf[32768];
	struct glass_membuf mb;
	msgpack_packer pk;
};

static void batch_flush(struct obj_batch *b)
{
	if (b->mb.len && G.proc_ready)
		glass_proc_writer_append(&G.proc, b->mb.data, b->mb.len);
	b->mb.len = 0;
	b->mb.overflow = 0;
}

static void batch_object(const struct glass_sym_object *o, int loaded, void *arg)
{
	struct obj_batch *b = arg;
	if (!G.proc_ready)
		return;
	for (int pass = 0; pass < 2; pass++) {
		size_t start = b->mb.len;
		msgpack_pack_uint8(&b->pk, loaded ? GLASS_REC_OBJECT : GLASS_REC_OBJECT_UNLOAD);
		if (loaded) {
			msgpack_pack_array(&b->pk, 6);
			msgpack_pack_uint64(&b->pk, glass_ticks());
			glass_pack_cstr(&b->pk, o->path);
			msgpack_pack_uint64(&b->pk, o->base);
			msgpack_pack_uint64(&b->pk, o->start);
			msgpack_pack_uint64(&b->pk, o->end);
			glass_pack_cstr(&b->pk, o->build_id);
		} else {
			msgpack_pack_array(&b->pk, 3);
			msgpack_pack_uint64(&b->pk, glass_ticks());
			msgpack_pack_uint64(&b->pk, o->base);
			msgpack_pack_uint64(&b->pk, o->start);
		}
		if (!b->mb.overflow)
			return;
		b->mb.len = start; /* full: write what is there, then this one again */
		b->mb.overflow = 0;
		batch_flush(b);
	}
}

static void batch_init(struct obj_batch *b)
{
	b->mb = (struct glass_membuf){b->buf, 0, sizeof(b->buf), 0};
	msgpack_packer_init(&b->pk, &b->mb, glass_membuf_write);
}

/* Normal context only: picks up dlopen/dlclose done since the last scan. */
static void rescan(void)
{
	if (!N.on)
		return;
	int saved = errno;
	static struct obj_batch b; /* scans are serialised by symbols/capture's lock */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&lock);
	batch_init(&b);
	glass_sym_rescan(batch_object, &b);
	batch_flush(&b);
	pthread_mutex_unlock(&lock);
	errno = saved;
}

void glass_native_proc_start(void)
{
	if (!N.on)
		return;
	static struct obj_batch b;
	batch_init(&b);
	glass_sym_rescan(NULL, NULL);
	glass_sym_objects(batch_object, &b);
	if (N.sample_sig) {
		/* readers look for this note before reading the streams for samples */
		char text[96];
		int n = snprintf(text, sizeof(text), "CPU sampling at %u Hz (%s clock)", N.sample_hz,
				 N.sample_wall ? "wall" : "cpu");
		msgpack_pack_uint8(&b.pk, GLASS_REC_NOTE);
		msgpack_pack_uint64(&b.pk, GLASS_NOTE_INFO);
		glass_pack_str(&b.pk, text, (size_t)n, sizeof(text));
	}
	batch_flush(&b);
}

typedef void *(*dlopen_fn)(const char *, int);
typedef int (*dlclose_fn)(void *);
static dlopen_fn real_dlopen;
static dlclose_fn real_dlclose;

/* dlopen searches the caller's RPATH/RUNPATH and expands $ORIGIN against the caller: a name
 * without a '/' (or with a '$') goes to the real dlopen as a tail call, so the caller it sees is
 * the host's own; those objects are picked up by the next scan. */
__attribute__((visibility("default"))) void *dlopen(const char *file, int mode)
{
	if (GLASS_UNLIKELY(!real_dlopen))
		real_dlopen = (dlopen_fn)dlsym(RTLD_NEXT, "dlopen");
	if (!N.on || !file || !strchr(file, '/') || strchr(file, '$'))
		return real_dlopen(file, mode);
	void *h = real_dlopen(file, mode);
	rescan();
	return h;
}

__attribute__((visibility("default"))) int dlclose(void *handle)
{
	if (GLASS_UNLIKELY(!real_dlclose))
		real_dlclose = (dlclose_fn)dlsym(RTLD_NEXT, "dlclose");
	if (!N.on)
		return real_dlclose(handle);
	/* code may be unmapped from here on: samples in other threads drop until the rescan */
	glass_sym_unload_begin();
	int r = real_dlclose(handle);
	int saved = errno;
	rescan();
	glass_sym_unload_end();
	errno = saved;
	return r;
}

/* ---- records from a signal handler ----------------------------------------------------------- */

/* Writes SAMPLE or CRASH at the stream's position (the caller made sure nothing is half written
 * there). Returns 0, or -1 when the stream could not take it (counted by the writer). */
static int put_stack(struct glass_stream_writer *s, uint8_t tag, const uint64_t *head, int nhead,
		     const uintptr_t *ips, int n, const uint64_t *tail, int ntail)
{
	uint64_t now = glass_ticks();
	size_t need = 1 + 1 + 9 * (size_t)(nhead + ntail + 1) + 5 + 8 * (size_t)n;
	uint8_t *at = glass_reserve(s, need, now);
	if (!at)
		return -1;
	struct glass_cursor c = {at + 1};
	glass_mp_pack_array(&c, (size_t)(2 + nhead + ntail)); /* wrapped; clock not moved */
	glass_mp_pack_uint64(&c, now >= s->prev ? now - s->prev : 0);
	for (int i = 0; i < nhead; i++) {
		if (tag == GLASS_REC_CRASH && i == 1) /* si_code: negative when sent */
			glass_mp_pack_int64(&c, (int64_t)head[i]);
		else
			glass_mp_pack_uint64(&c, head[i]);
	}
	glass_mp_pack_bin(&c, 8 * (size_t)n);
	for (int i = 0; i < n; i++) {
		uint64_t v = (uint64_t)ips[i]; /* little-endian on every target we build for */
		memcpy(c.p, &v, 8);
		c.p += 8;
	}
	for (int i = 0; i < ntail; i++)
		glass_mp_pack_uint64(&c, tail[i]);
	glass_publish(s, at, tag, c.p);
	return 0;
}

/* ---- crashes ------------------------------------------------------------------------------- */

static int crash_index(int sig)
{
	for (int i = 0; i < NCRASH; i++)
		if (crash_signals[i] == sig)
			return i;
	return -1;
}

/* Hands the signal to what was there before us, so that the exit status, the core dump and
 * faulthandler's output are what they would be without glass. */
static void crash_chain(int sig, siginfo_t *si, void *uc)
{
	int i = crash_index(sig);
	if (i < 0)
		return;
	struct sigaction *p = &N.prev[i];
	if (p->sa_flags & SA_SIGINFO) {
		if (p->sa_sigaction) {
			p->sa_sigaction(sig, si, uc);
			return;
		}
	} else if (p->sa_handler != SIG_DFL && p->sa_handler != SIG_IGN) {
		p->sa_handler(sig);
		return;
	}
	/* the default (or ignore): put it back and let the signal happen again without us */
	sigaction(sig, p, NULL);
	if (si->si_code <= 0 || sig == SIGABRT) {
		/* sent (kill, raise, abort): send it again; it arrives when we return, at the
		 * interrupted point, with the default action */
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_BLOCK, &set, NULL);
		syscall(SYS_tgkill, (pid_t)syscall(SYS_getpid), (pid_t)syscall(SYS_gettid), sig);
	}
	/* a fault: returning runs the faulting instruction again, which faults again */
}

/* Back to the handler that was unwinding or writing (its own function: GCC wants the longjmp
 * outside the function that set the buffer). */
__attribute__((noinline, noreturn)) static void probe_escape(void)
{
	__builtin_longjmp(NT.probe, 1);
}

static void crash_handler(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	if (NT.probing) /* a fault inside our own unwinder or writer: back out of it */
		probe_escape();
	struct glass_stream_writer *s = &T.s;
	if (!NT.crashing && T.epoch == G.epoch && s->base && G.pid == (uint32_t)syscall(SYS_getpid)) {
		NT.crashing = 1;
		NT.probing = 1;
		if (__builtin_setjmp(NT.probe) == 0) {
			uintptr_t ips[GLASS_SYM_MAX_FRAMES];
			int n = glass_sym_unwind(uc, ips, GLASS_SYM_MAX_FRAMES, 0);
			if (s->busy) {
				/* the crash came in the middle of one of our records, which will never
				 * be finished: clear its bytes so the reader does not read them */
				size_t left = (size_t)(s->end - s->cur);
				memset(s->cur, 0, left < GLASS_OP_END_MAX ? left : GLASS_OP_END_MAX);
				s->busy = 0;
			}
			uint64_t head[3] = {(uint64_t)sig, (uint64_t)(int64_t)si->si_code,
					    (uint64_t)(uintptr_t)si->si_addr};
			put_stack(s, GLASS_REC_CRASH, head, 3, ips, n, NULL, 0);
			if (s->base) /* on its way to the page cache and the disk */
				msync(s->base, s->capacity, MS_ASYNC);
		}
		NT.probing = 0;
	}
	errno = saved;
	crash_chain(sig, si, uc);
	errno = saved;
}

static void crash_install(void)
{
	const char *v = getenv("GLASS_CRASH");
	if (v && !strcmp(v, "0"))
		return;
	for (int i = 0; i < NCRASH; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = crash_handler;
		/* SA_NODEFER: a fault inside this handler enters it again (and backs out) instead of
		 * the kernel killing the process there, hiding the first crash */
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		if (sigaction(crash_signals[i], NULL, &N.prev[i]) != 0)
			return;
	}
	for (int i = 0; i < NCRASH; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = crash_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(crash_signals[i], &sa, NULL);
	}
	N.crash_on = 1;
}

/* ---- CPU samples --------------------------------------------------------------------------- */

static void sample_handler(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code != SI_TIMER)
		return; /* not our timer: someone sent this signal by hand */
	int saved = errno;
	struct glass_stream_writer *s = &T.s;
	if (T.epoch != G.epoch || !s->base || s->busy || NT.probing || NT.crashing ||
	    !NT.timer_ok || NT.skip) {
		if (NT.skip)
			NT.skip--;
		NT.missed++;
		goto out;
	}
	uint64_t t0 = glass_mono_ns();
	uintptr_t ips[GLASS_SYM_MAX_FRAMES];
	int n = 0;
	NT.probing = 1;
	if (__builtin_setjmp(NT.probe) == 0)
		n = glass_sym_unwind(uc, ips, GLASS_SYM_MAX_FRAMES, NT.warm);
	NT.probing = 0;
	if (n <= 0) {
		NT.missed++;
		goto out;
	}
	uint64_t tail[3] = {NT.missed, 1000000000u / N.sample_hz, (uint64_t)N.sample_wall};
	if (put_stack(s, GLASS_REC_SAMPLE, NULL, 0, ips, n, tail, 3) == 0)
		NT.missed = 0;
	/* A sample that took more than a tenth of the period (a stack libunwind had to walk the
	 * slow way) drops the next ones in proportion, so sampling never takes more than about a
	 * tenth of the thread's time: a timer faster than its handler would starve the thread. */
	uint64_t took = glass_mono_ns() - t0, period = 1000000000u / N.sample_hz;
	if (took * 10 > period) {
		uint64_t k = took * 10 / period;
		NT.skip = k > 100000 ? 100000 : (uint32_t)k;
	}
out:
	errno = saved;
}

/* A real-time signal nobody handles, from the top (libraries that take one usually take
 * SIGRTMIN + k). */
static int free_rt_signal(void)
{
	for (int sig = SIGRTMAX; sig > SIGRTMIN + 2; sig--) {
		struct sigaction old;
		if (sigaction(sig, NULL, &old) != 0)
			continue;
		if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL)
			return sig;
	}
	return 0;
}

static void sample_install(void)
{
	long long hz = -1;
	const char *env = getenv("GLASS_SAMPLE_HZ");
	if (env && *env) {
		char *end;
		hz = strtoll(env, &end, 10);
		if (*end || hz < 0 || hz > 10000) {
			glass_log(1, "ignoring GLASS_SAMPLE_HZ=%s (expected a number from 0 to 10000)",
				  env);
			hz = -1;
		}
	}
	if (hz < 0)
		hz = glass_policy_option_int(G.policy, "sample_hz", 0);
	if (hz <= 0)
		return;
	if (hz > 10000) {
		glass_log(1, "sample_hz %lld is above 10000; sampling at 10000 Hz", hz);
		hz = 10000;
	}
	const char *clk = getenv("GLASS_SAMPLE_CLOCK");
	if (!clk || !*clk)
		clk = glass_policy_option_str(G.policy, "sample_clock", "cpu");
	if (!strcmp(clk, "wall"))
		N.sample_wall = 1;
	else if (strcmp(clk, "cpu"))
		glass_log(1, "ignoring sample_clock \"%s\" (expected \"cpu\" or \"wall\")", clk);
	if (glass_sym_capture_warm() != 0) {
		glass_log(1, "libunwind could not be set up; sampling disabled");
		return;
	}
	int sig = free_rt_signal();
	if (!sig) {
		glass_log(1, "no free real-time signal for CPU sampling; sampling disabled");
		return;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sample_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		return;
	N.sample_hz = (uint32_t)hz;
	N.sample_sig = sig;
}

static void timer_start(void)
{
	if (!N.sample_sig)
		return;
	struct sigaction cur;
	/* a program that took our signal later wins: no more timers that would call its handler */
	if (sigaction(N.sample_sig, NULL, &cur) != 0 || !(cur.sa_flags & SA_SIGINFO) ||
	    cur.sa_sigaction != sample_handler) {
		N.sample_sig = 0;
		return;
	}
	struct sigevent sev;
	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = N.sample_sig;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(N.sample_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &sev,
			 &NT.timer) != 0)
		return;
	long ns = 1000000000L / (long)N.sample_hz;
	struct itimerspec its = {{ns / 1000000000L, ns % 1000000000L},
				 {ns / 1000000000L, ns % 1000000000L}};
	NT.timer_pid = G.pid;
	NT.missed = 0;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	NT.timer_ok = 1;
	if (timer_settime(NT.timer, 0, &its, NULL) != 0) {
		NT.timer_ok = 0;
		timer_delete(NT.timer);
	}
}

/* ---- hooks called by the rest of the preload ------------------------------------------------ */

void glass_native_install(void)
{
	if (glass_sym_capture_init() != 0) {
		glass_log(2, "libunwind could not be set up; no native stacks");
		return;
	}
	glass_sym_rescan(NULL, NULL);
	N.on = 1;
	crash_install();
	sample_install();
}

void glass_native_thread_start(void)
{
	if (!N.on)
		return;
	int saved = errno;
	if (NT.timer_ok && NT.timer_pid != G.pid)
		NT.timer_ok = 0; /* inherited through fork: the timer stayed with the parent */
	if (N.crash_on && !NT.altstack) {
		stack_t cur;
		if (sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE)) {
			void *p = mmap(NULL, ALTSTACK_SIZE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
			if (p != MAP_FAILED) {
				stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_SIZE, .ss_flags = 0};
				if (sigaltstack(&ss, NULL) == 0)
					NT.altstack = p;
				else
					munmap(p, ALTSTACK_SIZE);
			}
		}
	}
	rescan(); /* objects a bare-name dlopen brought in */
	if (N.sample_sig && !NT.warm) {
		glass_sym_thread_warm();
		NT.warm = 1;
	}
	if (!NT.timer_ok)
		timer_start();
	errno = saved;
}

/* The calling thread's stream ends: its timer and alternate stack go. */
void glass_native_thread_end(void)
{
	if (!NT.timer_ok && !NT.altstack)
		return;
	int saved = errno;
	if (NT.timer_ok) {
		NT.timer_ok = 0;
		if (NT.timer_pid == G.pid)
			timer_delete(NT.timer);
	}
	if (NT.altstack) {
		stack_t ss = {.ss_flags = SS_DISABLE}, cur;
		if (sigaltstack(NULL, &cur) == 0 && cur.ss_sp == NT.altstack &&
		    !(cur.ss_flags & SS_ONSTACK) && sigaltstack(&ss, NULL) == 0) {
			munmap(NT.altstack, ALTSTACK_SIZE);
			NT.altstack = NULL;
		}
	}
	errno = saved;
}

void glass_native_atfork_child(void)
{
	NT.timer_ok = 0; /* timers are not inherited; the next thread start makes one */
}
