/* symbols/capture.c — loaded-object table and async-signal-safe local unwinding (libunwind). */
#define UNW_LOCAL_ONLY
#include "capture.h"

#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <ucontext.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libunwind.h>

/* Objects ever seen stay in their slot (a dead slot is never reused: a handler in another
 * thread may still walk libunwind's list through it). */
#define GLASS_SYM_SLOTS 1024

struct slot {
	struct glass_sym_object o;
	unw_dyn_info_t di;
	char path[480];
	uintptr_t dyn_addr; /* link-map identity (dlpi_addr + phdr), for rescans */
	const void *phdr;
	int live; /* 1 while loaded (readers: acquire) */
	int registered;
	int seen; /* scan mark */
};

static struct slot slots[GLASS_SYM_SLOTS];
static int nslots; /* slots used (readers: acquire) */
static pthread_mutex_t scan_lock = PTHREAD_MUTEX_INITIALIZER;
static int unload_seq; /* odd while code may be unmapped */
static char exe_path[480];

/* libunwind is loaded with RTLD_LOCAL, never linked: libunwind.so also defines _Unwind_*
 * (the C++ exception ABI), and as a dependency of the preload it would come first in the
 * global scope and take over the host's exceptions from libgcc_s. */
static struct {
	int (*init_local)(unw_cursor_t *, unw_context_t *);
	int (*init_local2)(unw_cursor_t *, unw_context_t *, int);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, int, unw_word_t *);
	int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
	int (*set_cache_size)(unw_addr_space_t, size_t, int);
	void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
	int (*getcontext)(unw_context_t *);
	void (*dyn_register)(unw_dyn_info_t *);
	void (*dyn_cancel)(unw_dyn_info_t *);
	int (*backtrace)(void **, int);
	unw_addr_space_t *local_as;
} U;

static int load_libunwind(void)
{
	void *h = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return -1;
#define SYM(field, name)                                     \
	do {                                                 \
		*(void **)&U.field = dlsym(h, name);         \
		if (!U.field)                                \
			return -1;                           \
	} while (0)
	SYM(init_local, "_ULx86_64_init_local");
	SYM(init_local2, "_ULx86_64_init_local2");
	SYM(step, "_ULx86_64_step");
	SYM(get_reg, "_ULx86_64_get_reg");
	SYM(set_caching_policy, "_ULx86_64_set_caching_policy");
	SYM(set_cache_size, "_ULx86_64_set_cache_size");
	SYM(flush_cache, "_Ux86_64_flush_cache");
	SYM(getcontext, "_Ux86_64_getcontext");
	SYM(dyn_register, "_U_dyn_register");
	SYM(dyn_cancel, "_U_dyn_cancel");
	SYM(local_as, "_ULx86_64_local_addr_space");
	SYM(backtrace, "unw_backtrace");
#undef SYM
	return 0;
}

int glass_sym_capture_init(void)
{
	if (U.step)
		return 0;
	if (load_libunwind() != 0) {
		memset(&U, 0, sizeof(U));
		return -1;
	}
	ssize_t n = readlink("/proc/self/exe", exe_path, sizeof(exe_path) - 1);
	exe_path[n > 0 ? n : 0] = 0;
	return 0;
}

/* libunwind's one-time set-up opens a pipe (its memory validation) that the host would see in
 * /proc/self/fd: it happens here, only when samples are wanted (else at a crash, in the
 * handler, on the way out). */
int glass_sym_capture_warm(void)
{
	static int done;
	if (!U.step)
		return -1;
	if (done)
		return 0;
	/* the global cache: its lock is held with every signal blocked, so a handler never
	 * waits for its own thread. (Debian's libunwind has no per-thread rule cache: with
	 * UNW_CACHE_PER_THREAD it would share the global one without the lock.) */
	if (U.set_caching_policy(*U.local_as, UNW_CACHE_GLOBAL) != 0)
		return -1;
	U.set_cache_size(*U.local_as, 1024, 0);
	glass_sym_thread_warm(); /* libunwind's one-time init (takes a lock) happens here */
	done = 1;
	return 0;
}

void glass_sym_thread_warm(void)
{
	uintptr_t ips[8];
	void *buf[8];
	glass_sym_unwind_here(ips, 8);
	if (U.backtrace) /* creates this thread's trace cache (pthread_setspecific may malloc) */
		U.backtrace(buf, 8);
}

/* Size of a DW_EH_PE-encoded value in .eh_frame_hdr; 0 for encodings we do not take. */
static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		return 8;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		return 4;
	default:
		return 0;
	}
}

static void fill_slot(struct slot *s, struct dl_phdr_info *info)
{
	memset(&s->o, 0, sizeof(s->o));
	memset(&s->di, 0, sizeof(s->di));
	s->registered = 0;
	s->o.base = info->dlpi_addr;
	s->dyn_addr = info->dlpi_addr;
	s->phdr = info->dlpi_phdr;
	const char *name = info->dlpi_name && info->dlpi_name[0] ? info->dlpi_name : NULL;
	if (!name && nslots == 0)
		name = exe_path; /* the first object is the executable */
	snprintf(s->path, sizeof(s->path), "%s", name ? name : "");
	s->o.path = s->path;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	const uint8_t *hdr = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			uintptr_t a = info->dlpi_addr + ph->p_vaddr;
			if (a < lo)
				lo = a;
			if (a + ph->p_memsz > hi)
				hi = a + ph->p_memsz;
		} else if (ph->p_type == PT_GNU_EH_FRAME) {
			hdr = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		} else if (ph->p_type == PT_NOTE && !s->o.build_id[0]) {
			const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
			const uint8_t *end = p + ph->p_memsz;
			while (p + sizeof(ElfW(Nhdr)) <= end) {
				const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
				const uint8_t *nm = p + sizeof(*nh);
				const uint8_t *desc = nm + ((nh->n_namesz + 3) & ~3u);
				const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
				if (next > end)
					break;
				if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
				    !memcmp(nm, "GNU", 4) && nh->n_descsz <= 20) {
					static const char hex[] = "0123456789abcdef";
					for (unsigned k = 0; k < nh->n_descsz; k++) {
						s->o.build_id[2 * k] = hex[desc[k] >> 4];
						s->o.build_id[2 * k + 1] = hex[desc[k] & 15];
					}
					s->o.build_id[2 * nh->n_descsz] = 0;
					break;
				}
				p = next;
			}
		}
	}
	if (lo < hi) {
		s->o.start = lo;
		s->o.end = hi;
	}
	/* the binary-search table of .eh_frame_hdr, described as libunwind's own dl_iterate_phdr
	 * callback does (format REMOTE_TABLE, data-relative to the header) */
	if (hdr && lo < hi && hdr[0] == 1 && hdr[2] == 0x03 /* udata4 */ &&
	    hdr[3] == 0x3b /* datarel|sdata4 */ && enc_size(hdr[1])) {
		const uint8_t *p = hdr + 4 + enc_size(hdr[1]);
		uint32_t count;
		memcpy(&count, p, 4);
		s->di.start_ip = lo;
		s->di.end_ip = hi;
		s->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
		s->di.u.rti.name_ptr = (unw_word_t)(uintptr_t)s->path;
		s->di.u.rti.segbase = (unw_word_t)(uintptr_t)hdr;
		s->di.u.rti.table_len = count * 8 / sizeof(unw_word_t);
		s->di.u.rti.table_data = (unw_word_t)(uintptr_t)(p + 4);
		s->registered = 1;
	}
}

struct scan_arg {
	void (*cb)(const struct glass_sym_object *, int, void *);
	void *arg;
	int changed;
};

static int scan_one(struct dl_phdr_info *info, size_t size, void *data)
{
	struct scan_arg *a = data;
	for (int i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];
		if (s->live && s->dyn_addr == info->dlpi_addr && s->phdr == info->dlpi_phdr) {
			s->seen = 1;
			return 0;
		}
	}
	if (nslots >= GLASS_SYM_SLOTS)
		return 0;
	struct slot *s = &slots[nslots];
	fill_slot(s, info);
	if (!s->o.start) /* no code: nothing of it is ever on a stack */
		return 0;
	s->seen = 1;
	if (s->registered)
		U.dyn_register(&s->di);
	__atomic_store_n(&s->live, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&nslots, nslots + 1, __ATOMIC_RELEASE);
	a->changed = 1;
	if (a->cb)
		a->cb(&s->o, 1, a->arg);
	return 0;
}

void glass_sym_rescan(void (*cb)(const struct glass_sym_object *o, int loaded, void *arg),
		      void *arg)
{
	struct scan_arg a = {cb, arg, 0};
	if (!U.step)
		return;
	pthread_mutex_lock(&scan_lock);
	for (int i = 0; i < nslots; i++)
		slots[i].seen = 0;
	dl_iterate_phdr(scan_one, &a);
	for (int i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];
		if (!s->live || s->seen)
			continue;
		__atomic_store_n(&s->live, 0, __ATOMIC_RELEASE);
		if (s->registered)
			U.dyn_cancel(&s->di);
		a.changed = 1;
		if (cb)
			cb(&s->o, 0, arg);
	}
	if (a.changed) /* cached unwind rules of unloaded code must not serve new code */
		U.flush_cache(*U.local_as, 0, 0);
	pthread_mutex_unlock(&scan_lock);
}

void glass_sym_objects(void (*cb)(const struct glass_sym_object *o, int loaded, void *arg),
		       void *arg)
{
	pthread_mutex_lock(&scan_lock);
	for (int i = 0; i < nslots; i++)
		if (slots[i].live)
			cb(&slots[i].o, 1, arg);
	pthread_mutex_unlock(&scan_lock);
}

int glass_sym_known(uintptr_t ip)
{
	int n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++) {
		const struct slot *s = &slots[i];
		if (ip >= s->o.start && ip < s->o.end && s->registered &&
		    __atomic_load_n(&s->live, __ATOMIC_ACQUIRE))
			return 1;
	}
	return 0;
}

void glass_sym_unload_begin(void)
{
	__atomic_add_fetch(&unload_seq, 1, __ATOMIC_ACQ_REL);
}

void glass_sym_unload_end(void)
{
	__atomic_add_fetch(&unload_seq, 1, __ATOMIC_ACQ_REL);
}

/* Walks the cursor outwards; stops at the first frame whose code is not in a registered object
 * (libunwind would otherwise look it up with dl_iterate_phdr, which is not safe here). */
static int walk(unw_cursor_t *c, uintptr_t *ips, int max)
{
	int n = 0;
	while (n < max) {
		unw_word_t ip;
		if (U.get_reg(c, UNW_REG_IP, &ip) < 0 || ip == 0)
			break;
		ips[n++] = (uintptr_t)ip;
		/* the caller frames' IPs are return addresses: the call is one byte before */
		if (!glass_sym_known(n == 1 ? (uintptr_t)ip : (uintptr_t)ip - 1))
			break;
		if (U.step(c) <= 0)
			break;
	}
	return n;
}

int glass_sym_unwind(void *ucontext, uintptr_t *ips, int max, int fast)
{
	if (!U.step || (__atomic_load_n(&unload_seq, __ATOMIC_ACQUIRE) & 1))
		return 0;
	uintptr_t pc = (uintptr_t)((ucontext_t *)ucontext)->uc_mcontext.gregs[REG_RIP];
	if (fast && glass_sym_known(pc)) {
		/* libunwind's fast trace (a per-thread cache of frame kinds, no lock once warm)
		 * from here, through the signal frame, then keep what is below it */
		void *buf[GLASS_SYM_MAX_FRAMES + 16];
		int n = U.backtrace(buf, GLASS_SYM_MAX_FRAMES + 16), i = 0;
		while (i < n && (uintptr_t)buf[i] != pc)
			i++;
		int k = 0;
		for (; i < n && k < max; i++, k++)
			ips[k] = (uintptr_t)buf[i] + (k ? 1 : 0); /* it gives call sites: ip - 1 */
		if (k)
			return k;
	}
	/* the step-by-step walk from the interrupted context, which stops at unknown code */
	if (!U.step || (__atomic_load_n(&unload_seq, __ATOMIC_ACQUIRE) & 1))
		return 0;
	unw_cursor_t c;
	/* on x86-64 libunwind's unw_context_t is the ucontext_t the kernel gave the handler */
	if (U.init_local2(&c, (unw_context_t *)ucontext, UNW_INIT_SIGNAL_FRAME) < 0)
		return 0;
	return walk(&c, ips, max);
}

int glass_sym_unwind_here(uintptr_t *ips, int max)
{
	if (!U.step || (__atomic_load_n(&unload_seq, __ATOMIC_ACQUIRE) & 1))
		return 0;
	unw_context_t uc;
	unw_cursor_t c;
	if (U.getcontext(&uc) < 0 || U.init_local(&c, &uc) < 0)
		return 0;
	return walk(&c, ips, max);
}
