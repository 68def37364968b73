/* preload/span-links.c — links between spans across threads, work items and processes.
 *
 * A span that hands work elsewhere (Thread.start, ThreadPoolExecutor.submit, a fork, a spawned
 * child) writes LINK_OUT with a process-wide number; where the work runs, LINK_IN names that
 * number and the thread that wrote it, and LINK_END closes it. glass-report resolves the
 * numbers to spans (tools/links.c): glass records facts, never span ids.
 *
 * The hand-off is seen through a few stdlib code objects, watched like Thread._bootstrap (a
 * cached per-code decision, so nothing is added to other frames). Between the two sides the
 * link number travels in a small table keyed by the Thread or _WorkItem object's address; both
 * sides run Python code, so the GIL orders them.
 */
#include "glass.h"

#include <errno.h>
#include <string.h>

struct watched {
	const char *module, *qual;
	enum glass_watch w;
};

static const struct watched watched[] = {
    {"threading", "Thread._bootstrap", GLASS_WATCH_BOOTSTRAP},
    {"threading", "Thread.start", GLASS_WATCH_THREAD_START},
    {"concurrent.futures.thread", "_WorkItem.__init__", GLASS_WATCH_WORK_INIT},
    {"concurrent.futures.thread", "_WorkItem.run", GLASS_WATCH_WORK_RUN},
    {"subprocess", "Popen._execute_child", GLASS_WATCH_SPAWN},
    {"multiprocessing.popen_spawn_posix", "Popen._launch", GLASS_WATCH_SPAWN},
    {"logging", "Logger.callHandlers", GLASS_WATCH_LOG},
};

enum glass_watch glass_watch_kind(const char *module, size_t ml, const char *qual, size_t ql)
{
	if (!module || !qual)
		return GLASS_WATCH_NONE;
	for (size_t i = 0; i < sizeof(watched) / sizeof(watched[0]); i++)
		if (strlen(watched[i].qual) == ql && !memcmp(watched[i].qual, qual, ql) &&
		    strlen(watched[i].module) == ml && !memcmp(watched[i].module, module, ml))
			return watched[i].w;
	return GLASS_WATCH_NONE;
}

/* ---- the hand-off table --------------------------------------------------------------------
 * Open addressing keyed by object address. An entry is taken by the run side; one never taken
 * (a thread that failed to start, an executor shut down with work pending) is overwritten when
 * its slot is needed again, so a full table loses the oldest links, never blocks. */

#define LINK_SLOTS 4096
#define LINK_PROBE 8

struct link_slot {
	uintptr_t key;
	uint64_t link;
	uint32_t tidx;
};

static struct link_slot slots[LINK_SLOTS];

static size_t slot_of(uintptr_t key)
{
	key ^= key >> 17;
	key *= 0x9e3779b97f4a7c15ull;
	return (size_t)(key >> 40) & (LINK_SLOTS - 1);
}

static void table_put(uintptr_t key, uint32_t tidx, uint64_t link)
{
	size_t h = slot_of(key), victim = h;
	for (size_t i = 0; i < LINK_PROBE; i++) {
		struct link_slot *s = &slots[(h + i) & (LINK_SLOTS - 1)];
		if (!s->key || s->key == key) {
			victim = (h + i) & (LINK_SLOTS - 1);
			break;
		}
		/* the oldest link among the probed slots goes */
		if (s->link < slots[victim].link)
			victim = (h + i) & (LINK_SLOTS - 1);
	}
	slots[victim].key = key;
	slots[victim].link = link;
	slots[victim].tidx = tidx;
}

static int table_take(uintptr_t key, uint32_t *tidx, uint64_t *link)
{
	size_t h = slot_of(key);
	for (size_t i = 0; i < LINK_PROBE; i++) {
		struct link_slot *s = &slots[(h + i) & (LINK_SLOTS - 1)];
		if (s->key == key) {
			*tidx = s->tidx;
			*link = s->link;
			s->key = 0;
			return 1;
		}
	}
	return 0;
}

/* ---- both sides ----------------------------------------------------------------------------- */

static int stream_ready(void)
{
	return T.epoch == G.epoch && T.s.proc;
}

/* LINK_OUT from the current span; 0 when this thread records nothing (no span can be open). */
static uint64_t link_out(uint64_t child_pid)
{
	if (!stream_ready())
		return 0;
	uint64_t n = __atomic_add_fetch(&G.next_link, 1, __ATOMIC_RELAXED);
	glass_emit_link_out(&T.s, glass_ticks(), n, child_pid);
	return n;
}

static int link_in(uint64_t link, unsigned kind, uint32_t src_tidx, const char *proc)
{
	if (T.epoch != G.epoch && (T.tried == G.epoch || glass_thread_start() != 0))
		return 0;
	glass_emit_link_in(&T.s, glass_ticks(), link, kind, src_tidx, proc,
			   proc ? strlen(proc) : 0);
	return 1;
}

/* The pid a Popen got (self.pid), read without running Python code of the program's: plain
 * instance attributes only. */
static uint64_t popen_pid(PyObject *self)
{
	void *getattro = GLASS_AT(self->ob_type, 144, void *);
	if (getattro != glass_py.Object_GenericGetAttr)
		return 0;
	PyObject *type, *value, *tb;
	PyObject *exc = NULL;
	if (glass_py.Err_GetRaisedException)
		exc = glass_py.Err_GetRaisedException();
	else
		glass_py.Err_Fetch(&type, &value, &tb);
	uint64_t pid = 0;
	PyObject *p = glass_py.Object_GetAttrString(self, "pid");
	if (p && p->ob_type == glass_py.Long_Type) {
		long v = glass_py.Long_AsLong(p);
		pid = v > 0 ? (uint64_t)v : 0;
	}
	if (p)
		glass_py.DecRef(p);
	glass_py.Err_Clear();
	if (glass_py.Err_SetRaisedException)
		glass_py.Err_SetRaisedException(exc);
	else
		glass_py.Err_Restore(type, value, tb);
	return pid;
}

uintptr_t glass_watch_start(enum glass_watch w, PyObject *self, PyObject *arg1)
{
	int saved = errno;
	uintptr_t state = 0;
	uint64_t link;
	uint32_t tidx;
	switch (w) {
	case GLASS_WATCH_THREAD_START:
	case GLASS_WATCH_WORK_INIT:
		if (self && (link = link_out(0)) != 0)
			table_put((uintptr_t)self, T.s.tidx, link);
		break;
	case GLASS_WATCH_BOOTSTRAP:
	case GLASS_WATCH_WORK_RUN:
		if (self && table_take((uintptr_t)self, &tidx, &link))
			state = link_in(
			    link, w == GLASS_WATCH_BOOTSTRAP ? GLASS_LINK_THREAD : GLASS_LINK_WORK,
			    tidx, NULL);
		break;
	case GLASS_WATCH_LOG:
		if (arg1 && G.log_min >= 0 && stream_ready())
			glass_events_log(arg1);
		break;
	case GLASS_WATCH_SPAWN:
		/* the child's pid is known when the frame returns: keep self until then */
		if (self && stream_ready()) {
			glass_py.IncRef(self);
			state = (uintptr_t)self;
		}
		break;
	default:
		break;
	}
	errno = saved;
	return state;
}

void glass_watch_end(enum glass_watch w, uintptr_t state)
{
	if (!state)
		return;
	int saved = errno;
	switch (w) {
	case GLASS_WATCH_BOOTSTRAP:
	case GLASS_WATCH_WORK_RUN:
		if (stream_ready())
			glass_emit_link_end(&T.s, glass_ticks());
		break;
	case GLASS_WATCH_SPAWN: {
		PyObject *self = (PyObject *)state;
		T.guard++;
		uint64_t pid = popen_pid(self);
		if (pid)
			link_out(pid);
		glass_py.DecRef(self);
		T.guard--;
		break;
	}
	default:
		break;
	}
	errno = saved;
}

/* ---- fork ------------------------------------------------------------------------------------
 * The forking thread writes LINK_OUT before the fork; the child inherits the number with its
 * memory and names it in LINK_IN when its stream starts (its parent's image is G.parent_key).
 * Only async-signal-safe work here: a store into the mapped chunk. */

void glass_links_prepare_fork(void)
{
	G.fork_link = 0;
	if (G.state != GLASS_ACTIVE || T.guard || !stream_ready())
		return;
	int saved = errno;
	G.fork_link = link_out(0);
	G.fork_link_tidx = T.s.tidx;
	errno = saved;
}

void glass_links_after_fork_parent(void)
{
	G.fork_link = 0;
}

void glass_links_thread_started(void)
{
	if (!G.fork_link || G.origin[0] != 'f' || !G.parent_key[0])
		return;
	uint64_t link = G.fork_link;
	G.fork_link = 0;
	glass_emit_link_in(&T.s, glass_ticks(), link, GLASS_LINK_PROCESS, G.fork_link_tidx,
			   G.parent_key, strlen(G.parent_key));
}
