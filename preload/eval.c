/* preload/eval.c — the PEP 523 frame evaluator: the hot path and its slow paths.
 *
 * Every Python frame of the main interpreter comes through glass_eval(). The decision to
 * trace is made once per code object and cached in a co_extra slot, so untraced code costs a
 * load and a compare before CPython's own evaluator runs. Traced frames write a record before
 * and after, into the thread's mmap'd chunk: no malloc, lock or syscall per event.
 */
#include "glass.h"
#include "capture-db.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/policy.h"

__thread struct glass_thread T __attribute__((tls_model("initial-exec")));

/* ---- the exception state around our own slow paths ------------------------------------------ */

struct saved_exc {
	PyObject *a, *b, *c;
};

/* Our slow paths call into CPython; a frame entered with throwflag=1 or a frame that raised
 * carries a pending exception that these calls must neither see nor clobber. */
static void exc_save(struct saved_exc *s)
{
	if (glass_py.Err_GetRaisedException) {
		s->a = glass_py.Err_GetRaisedException();
		s->b = s->c = NULL;
	} else {
		glass_py.Err_Fetch(&s->a, &s->b, &s->c);
	}
}

static void exc_restore(struct saved_exc *s)
{
	if (glass_py.Err_SetRaisedException) {
		glass_py.Err_Clear();
		glass_py.Err_SetRaisedException(s->a);
	} else {
		glass_py.Err_Restore(s->a, s->b, s->c);
	}
}

/* UTF-8 of a str without side effects visible to Python; NULL (and no error left) if not a str. */
const char *glass_str_utf8(PyObject *o, size_t *len)
{
	*len = 0;
	if (!o || !(glass_type_flags(o->ob_type) & GLASS_TPFLAGS_UNICODE_SUBCLASS))
		return NULL;
	const char *s = glass_str_ascii(o, len);
	if (s)
		return s;
	intptr_t n = 0;
	s = glass_py.Unicode_AsUTF8AndSize(o, &n);
	if (!s) {
		/* lone surrogates (a name made with surrogateescape): \udcXX, kept alive in T until
		 * the next such text */
		glass_py.Err_Clear();
		PyObject *b = glass_py.Unicode_AsEncodedString(o, "utf-8", "backslashreplace");
		if (!b) {
			glass_py.Err_Clear();
			return NULL;
		}
		if (T.str_tmp)
			glass_py.DecRef(T.str_tmp);
		T.str_tmp = b;
		*len = (size_t)GLASS_AT(b, GLASS_VAR_SIZE_OFF, intptr_t);
		return (const char *)b + GLASS_BYTES_DATA_OFF;
	}
	*len = (size_t)n;
	return s;
}

/* ---- process and thread start --------------------------------------------------------------- */

static size_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t n = 0;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	return n;
}

void glass_write_meta_process(void)
{
	static char buf[65536];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	char exe[PATH_MAX] = "", cwd[PATH_MAX] = "", cmdline[32768];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = 0;
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	size_t cl = read_file("/proc/self/cmdline", cmdline, sizeof(cmdline));
	const char *ver = glass_py.GetVersion();
	size_t vl = strcspn(ver, " ");

	msgpack_pack_uint8(&pk, GLASS_REC_PROCESS);
	msgpack_pack_uint64(&pk, G.pid);
	msgpack_pack_uint64(&pk, (uint64_t)getppid());
	msgpack_pack_uint64(&pk, G.start_real);
	glass_pack_str(&pk, ver, vl, 64);
	glass_pack_cstr(&pk, exe);
	glass_pack_cstr(&pk, cwd);
	glass_pack_cstr(&pk, G.origin);
	size_t argc = 0;
	for (size_t i = 0; i < cl; i++)
		argc += cmdline[i] == 0;
	if (cl && cmdline[cl - 1] != 0)
		argc++;
	if (argc > 256)
		argc = 256;
	msgpack_pack_array(&pk, argc);
	size_t off = 0;
	for (size_t i = 0; i < argc; i++) {
		size_t l = strnlen(cmdline + off, cl - off);
		glass_pack_str(&pk, cmdline + off, l, 4096);
		off += l + 1;
	}
	glass_pack_cstr(&pk, G.parent_key);
	if (!mb.overflow)
		glass_proc_writer_append(&G.proc, mb.data, mb.len);

	mb.len = 0;
	msgpack_pack_uint8(&pk, GLASS_REC_POLICY);
	glass_pack_cstr(&pk, G.policy_mode);
	glass_pack_cstr(&pk, G.policy_path);
	glass_pack_cstr(&pk, G.policy_desc);
	if (!mb.overflow)
		glass_proc_writer_append(&G.proc, mb.data, mb.len);
}

static void note_first_drop(struct glass_proc_writer *w, int err)
{
	if (err)
		glass_log(1, "cannot write more of the recording in %s: %s; records are dropped "
			     "and counted from now on",
			  w->dir, strerror(err));
	else
		glass_log(1, "the recording of pid %u reached GLASS_MAX_MB; records are dropped and "
			     "counted from now on",
			  w->pid);
}

/* A fork child keeps its parent's code ids: copy the CODE records the parent had written when it
 * forked into the child's own meta file, so each process directory reads on its own. */
static void inherit_code_defs(void)
{
	if (!G.parent_meta[0] || G.fork_meta_size <= GLASS_META_HEADER_SIZE ||
	    G.fork_meta_size > (64u << 20))
		return;
	size_t len = (size_t)(G.fork_meta_size - GLASS_META_HEADER_SIZE);
	int fd = open(G.parent_meta, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	char *buf = malloc(len), *out = malloc(len);
	size_t got = 0, outlen = 0;
	while (buf && got < len) {
		ssize_t r = pread(fd, buf + got, len - got, (off_t)(GLASS_META_HEADER_SIZE + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (!buf || !out || got != len)
		goto out;
	msgpack_unpacked u;
	msgpack_unpacked_init(&u);
	size_t off = 0;
	while (off < len) {
		size_t start = off;
		if (msgpack_unpack_next(&u, buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
		    u.data.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			break;
		uint64_t tag = u.data.via.u64;
		int nfields = 0;
#define GLASS_NFIELDS(name, t, types, fields) \
	if (tag == t)                                \
		nfields = (int)sizeof(types) - 1;
		GLASS_META_RECORDS(GLASS_NFIELDS)
#undef GLASS_NFIELDS
		if (GLASS_REC_IS_WRAPPED(tag))
			nfields = 1; /* its fields are one array (format.h) */
		if (!nfields)
			break;
		int ok = 1;
		for (int i = 0; i < nfields && ok; i++)
			ok = msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS;
		if (!ok)
			break;
		if (tag == GLASS_REC_CODE) {
			memcpy(out + outlen, buf + start, off - start);
			outlen += off - start;
		}
	}
	msgpack_unpacked_destroy(&u);
	if (outlen)
		glass_proc_writer_append(&G.proc, out, outlen);
out:
	free(buf);
	free(out);
}

/* Creates this process image's directory: at the first traced call, so a Python process that
 * runs nothing of the user's leaves no recording behind. */
int glass_proc_start(void)
{
	if (G.proc_ready)
		return 0;
	if (G.proc_failed)
		return -1;
	int saved = errno;
	int forked = G.origin[0] == 'f';
	if (!G.session_dir[0] && glass_session_attach() != 0)
		goto fail;
	if (forked)
		glass_session_register(); /* a fork child keeps the session; its children find it */
	if (glass_proc_writer_open(&G.proc, G.session_dir, G.pid, G.chunk_size,
				   G.use_tsc ? GLASS_CLOCK_TSC : GLASS_CLOCK_MONO, G.start_ticks,
				   G.start_mono, G.start_real) != 0) {
		glass_log(1, "cannot write the recording in %s: %s; tracing disabled",
			  G.session_dir, strerror(errno));
		goto fail;
	}
	G.proc.max_bytes = G.max_bytes;
	G.proc.on_first_drop = note_first_drop;
	glass_write_meta_process();
	if (forked)
		inherit_code_defs();
	G.proc_ready = 1;
	glass_native_proc_start();
	errno = saved;
	return 0;
fail:
	G.proc_failed = 1;
	errno = saved;
	glass_switch_off(NULL);
	return -1;
}

static char *stack_low_of_thread(void)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;
	char *low = (char *)1;
	if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		/* keep a quarter of the stack, at most 128 KiB, for C code below us */
		if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
			size_t margin = size / 4 < (128u << 10) ? size / 4 : (128u << 10);
			low = (char *)addr + margin;
		}
		pthread_attr_destroy(&attr);
	}
	return low;
}

/* First traced event on this thread (or in a fork child): opens its stream. */
int glass_thread_start(void)
{
	int saved = errno;
	/* In a fork child this thread's traced frames are still open (they will return here):
	 * keep their depth so the reader can pair the returns. A new thread starts at 0. */
	uint32_t depth = T.s.proc ? T.s.depth : 0;
	if (T.s.base || T.s.proc)
		glass_stream_forget(&T.s); /* state inherited through fork: the parent's mapping */
	T.tried = G.epoch;
	T.epoch = 0;
	T.exc_seq = 0;
	T.ended = 0;
	T.next_op = 0;
	T.last_exc_type = T.last_exc_value = NULL;
	if (glass_proc_start() != 0)
		goto out;
	uint32_t tid = (uint32_t)syscall(SYS_gettid);
	if (glass_stream_start(&T.s, &G.proc, tid, glass_ticks(), depth) != 0)
		goto out;
	T.epoch = G.epoch;
	if (tid == G.pid)
		glass_emit_thread_name(&T.s, glass_ticks(), "MainThread", 10);
	pthread_setspecific(G.thread_key, &T);
	glass_native_thread_start();
out:
	errno = saved;
	return T.epoch == G.epoch ? 0 : -1;
}

void glass_thread_finish(struct glass_thread *t, uint32_t flags)
{
	if (t->epoch != G.epoch || !t->s.proc)
		return;
	if (!t->ended) {
		int saved = errno;
		if (t == &T) /* CPU time is the calling thread's */
			glass_emit_thread_cpu(&t->s, glass_ticks());
		glass_emit3(&t->s, GLASS_REC_THREAD_END, glass_ticks(), 1, 0, 0, 0);
		errno = saved;
	}
	if (t == &T)
		glass_native_thread_end();
	glass_stream_seal(&t->s, flags);
	t->epoch = 0;
}

/* ---- first sight of a code object ------------------------------------------------------------ */

static void write_code_def(uint32_t id, PyObject *code, const char *module, size_t ml,
			   const char *file, size_t fl, const char *qual, size_t ql, long line,
			   long flags)
{
	char buf[4096];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	msgpack_pack_uint8(&pk, GLASS_REC_CODE);
	msgpack_pack_uint64(&pk, id);
	glass_pack_str(&pk, qual, ql, GLASS_MAX_NAME);
	glass_pack_str(&pk, module, ml, GLASS_MAX_NAME);
	glass_pack_str(&pk, file, fl, 1024);
	msgpack_pack_uint64(&pk, line > 0 ? (uint64_t)line : 0);
	msgpack_pack_uint64(&pk, (uint64_t)flags);
	if (!mb.overflow && glass_proc_writer_append(&G.proc, mb.data, mb.len) == 0)
		__atomic_add_fetch(&G.proc.hdr->code_defs, 1, __ATOMIC_RELAXED);
}

static uintptr_t decide(PyObject *code, glass_frame *f)
{
	if (code->ob_type != glass_py.Code_Type)
		return GLASS_X_SKIP;
	struct saved_exc se;
	exc_save(&se);
	size_t ml = 0, fl = 0, ql = 0;
	const char *module = NULL;
	PyObject *globals = glass_frame_globals(f);
	if (globals && globals->ob_type == glass_py.Dict_Type) {
		PyObject *name = glass_py.Dict_GetItemWithError(globals, G.name_str);
		module = glass_str_utf8(name, &ml);
		if (!name)
			glass_py.Err_Clear();
	}
	const char *file = glass_str_utf8(GLASS_AT(code, glass_cx.co_filename, PyObject *), &fl);
	glass_code_seen(code);
	const char *qual = glass_str_utf8(glass_code_qualname(code), &ql);
	int flags = GLASS_AT(code, glass_cx.co_flags, int);
	int line = GLASS_AT(code, glass_cx.co_firstlineno, int);

	/* policy matching wants NUL-terminated strings; names are short */
	char mod_z[GLASS_MAX_NAME + 1], file_z[PATH_MAX];
	snprintf(mod_z, sizeof(mod_z), "%.*s", (int)ml, module ? module : "");
	snprintf(file_z, sizeof(file_z), "%.*s", (int)fl, file ? file : "");

	/* threading's Thread._bootstrap: its thread's name and end are noted, traced or not */
	int bootstrap = ql == 17 && memcmp(qual, "Thread._bootstrap", 17) == 0 && ml == 9 &&
			memcmp(module, "threading", 9) == 0;
	uintptr_t x = bootstrap ? GLASS_X_SPECIAL | 1 : GLASS_X_SKIP;
	if (glass_policy_match(G.policy, mod_z, file_z)) {
		glass_watch_generators(f);
		if (glass_proc_start() == 0) {
			uint32_t id = ++G.next_code;
			write_code_def(id, code, module, ml, file, fl, qual, ql, line, flags);
			x |= ((uintptr_t)id << GLASS_X_ID_SHIFT) | GLASS_X_TRACED | 1;
			if (flags & (GLASS_CO_GENERATOR | GLASS_CO_COROUTINE |
				     GLASS_CO_ASYNC_GENERATOR))
				x |= GLASS_X_GEN;
		}
	}
	glass_py.Code_SetExtra(code, G.extra_idx, (void *)x);
	exc_restore(&se);
	return x;
}

/* threading's Thread._bootstrap(self) starts every Python thread: take the name from self. */
static void note_thread_name(glass_frame *f)
{
	PyObject *self = glass_frame_local0(f);
	if (!self || (void *)((PyTypeObject *)self->ob_type)[0].ob_base.ob_type == NULL)
		return;
	/* only plain attribute lookup: a custom __getattr__ could run user code */
	void *getattro = GLASS_AT(self->ob_type, GLASS_TP_GETATTRO_OFF, void *);
	if (getattro != glass_py.Object_GenericGetAttr)
		return;
	if (T.epoch != G.epoch && (T.tried == G.epoch || glass_thread_start() != 0))
		return;
	struct saved_exc se;
	exc_save(&se);
	PyObject *name = glass_py.Object_GetAttrString(self, "_name");
	size_t len;
	const char *s = glass_str_utf8(name, &len);
	if (s)
		glass_emit_thread_name(&T.s, glass_ticks(), s, len);
	if (name)
		glass_py.DecRef(name);
	exc_restore(&se);
}

/* ---- records of an exception escaping a frame ------------------------------------------------ */

/* Is this exception a database driver's (its class or a base defined in one of their
 * packages)? Their messages quote statements and values ("LINE 1: ... WHERE pw = 'hunter2'",
 * SQLAlchemy's "[parameters: (...)]"): recorded scrubbed unless the policy keeps raw SQL. */
static int is_db_exception(PyObject *type)
{
	static const char *const pkgs[] = {"psycopg2", "psycopg", "sqlite3", "pyodbc", "MySQLdb",
					   "_mysql", "pymysql", "mysql", "sqlalchemy", "pymongo",
					   "bson", "redis", "asyncpg", "aiosqlite", "django.db"};
	PyTypeObject *t = (PyTypeObject *)type;
	for (int depth = 0; t && depth < 12; depth++) {
		const char *mod = NULL;
		size_t ml = 0;
		unsigned long flags = glass_type_flags(t);
		PyObject *dict = GLASS_AT(t, GLASS_TP_DICT_OFF, PyObject *);
		if ((flags & GLASS_TPFLAGS_HEAPTYPE) && dict &&
		    (glass_type_flags(dict->ob_type) & GLASS_TPFLAGS_DICT_SUBCLASS)) {
			PyObject *m = glass_py.Dict_GetItemWithError(dict, G.module_str);
			if (m)
				mod = glass_str_utf8(m, &ml);
			else
				glass_py.Err_Clear();
		} else if (t->tp_name) {
			const char *dot = strrchr(t->tp_name, '.');
			mod = t->tp_name;
			ml = dot ? (size_t)(dot - t->tp_name) : 0;
		}
		for (size_t i = 0; mod && i < sizeof(pkgs) / sizeof(pkgs[0]); i++) {
			size_t pl = strlen(pkgs[i]);
			if (ml >= pl && !memcmp(mod, pkgs[i], pl) && (ml == pl || mod[pl] == '.'))
				return 1;
		}
		t = GLASS_AT(t, GLASS_TP_BASE_OFF, PyTypeObject *);
	}
	return 0;
}

static uint64_t exc_ref(PyThreadState *ts)
{
	PyObject *type, *value;
	glass_tstate_exc(ts, &type, &value);
	if (type == T.last_exc_type && value == T.last_exc_value && T.last_exc_ref)
		return T.last_exc_ref; /* the same exception unwinding through more frames */
	T.last_exc_type = type;
	T.last_exc_value = value;
	T.last_exc_ref = ++T.exc_seq;

	const char *tname = type ? ((PyTypeObject *)type)->tp_name : NULL;
	size_t tl = tname ? strlen(tname) : 0;
	const char *msg = NULL;
	size_t msgl = 0;
	T.guard++;
	struct saved_exc se;
	exc_save(&se);
	if (value && (glass_type_flags(value->ob_type) & GLASS_TPFLAGS_BASE_EXC_SUBCLASS)) {
		PyObject *args = GLASS_AT(value, GLASS_EXC_ARGS_OFF, PyObject *);
		if (args && (glass_type_flags(args->ob_type) & GLASS_TPFLAGS_TUPLE_SUBCLASS) &&
		    GLASS_AT(args, GLASS_VAR_SIZE_OFF, intptr_t) >= 1)
			msg = glass_str_utf8(GLASS_AT(args, GLASS_TUPLE_ITEMS_OFF, PyObject *), &msgl);
	} else if (value) {
		msg = glass_str_utf8(value, &msgl); /* 3.11: not yet normalised, e.g. a bare str */
	}
	char scrubbed[GLASS_MAX_MESSAGE + 1];
	if (msg && msgl && !glass_cap.sql_raw && type && is_db_exception(type)) {
		msgl = db_scrub(msg, msgl, NULL, 0, scrubbed, sizeof(scrubbed));
		msg = scrubbed;
	}
	glass_emit_exc(&T.s, glass_ticks(), T.last_exc_ref, tname, tl, msg, msgl);
	exc_restore(&se);
	T.guard--;
	return T.last_exc_ref;
}

/* ---- the evaluator ---------------------------------------------------------------------------- */

/* With an evaluator installed CPython no longer inlines Python-to-Python calls: each call also
 * recurses in C. Two consequences, both handled here:
 * - 3.12+ spend C recursion budget per call; giving those units back lets programs recurse as
 *   deep as without glass.
 * - every call now uses C stack, which plain CPython would not. Near the end of the thread's
 *   stack we make CPython's own entry check fail (its counter set to 0 for that one call), so
 *   the program gets the RecursionError it can handle instead of a crash. */
static PyObject *__attribute__((noinline))
call_real_near_stack_end(PyThreadState *ts, glass_frame *f, int throwflag)
{
	int *ctr = glass_tstate_guard(ts);
	int saved = *ctr;
	*ctr = glass_guard_tripped();
	PyObject *r = G.real_eval(ts, f, throwflag);
	*ctr = saved;
	return r;
}

static inline PyObject *call_real(PyThreadState *ts, glass_frame *f, int throwflag)
{
	if (GLASS_UNLIKELY(!T.stack_low))
		T.stack_low = stack_low_of_thread();
	if (GLASS_UNLIKELY((char *)__builtin_frame_address(0) < T.stack_low))
		return call_real_near_stack_end(ts, f, throwflag);
	if (G.rec_units) {
		int *rem = glass_tstate_c_recursion(ts);
		*rem += G.rec_units;
		PyObject *r = G.real_eval(ts, f, throwflag);
		*rem -= G.rec_units;
		return r;
	}
	return G.real_eval(ts, f, throwflag);
}

static void __attribute__((noinline)) emit_raise(PyThreadState *ts)
{
	glass_emit_raise(&T.s, glass_ticks(), exc_ref(ts));
}

/* A traced function call: CALL, the frame, then RETURN or RAISE. */
static inline __attribute__((always_inline)) PyObject *
trace_call(PyThreadState *ts, glass_frame *f, int throwflag, uint32_t id)
{
	glass_emit_call(&T.s, glass_ticks(), id);
	PyObject *r = call_real(ts, f, throwflag);
	if (GLASS_LIKELY(r != NULL))
		glass_emit_return(&T.s, glass_ticks());
	else
		emit_raise(ts);
	return r;
}

/* Traced frames other than the plain call of the fast path: generators and coroutines, and the
 * first traced frame of a thread. */
static PyObject *eval_traced(PyThreadState *ts, glass_frame *f, int throwflag, uintptr_t x)
{
	if (GLASS_UNLIKELY(T.epoch != G.epoch) &&
	    (T.tried == G.epoch || G.state != GLASS_ACTIVE || glass_thread_start() != 0))
		return call_real(ts, f, throwflag);
	struct glass_stream_writer *s = &T.s;
	if (GLASS_UNLIKELY(s->depth >= G.depth_limit))
		return call_real(ts, f, throwflag);
	uint32_t id = (uint32_t)(x >> GLASS_X_ID_SHIFT);
	PyObject *r;

	if (!(x & GLASS_X_GEN))
		return trace_call(ts, f, throwflag, id);
	if (!glass_frame_is_gen_resume(f)) {
		/* calling a generator function: the frame only builds and returns the object */
		r = call_real(ts, f, throwflag);
		if (r)
			glass_emit_gen_create(s, glass_ticks(), id, (uintptr_t)r);
		return r;
	}
	uintptr_t gen = glass_frame_gen(f);
	glass_emit_gen_resume(s, glass_ticks(), id, gen);
	r = call_real(ts, f, throwflag);
	if (r == NULL)
		emit_raise(ts);
	else if (glass_frame_gen_suspended(f))
		glass_emit_gen_yield(s, glass_ticks());
	else
		glass_emit_gen_return(s, glass_ticks());
	return r;
}

static PyObject *__attribute__((noinline))
eval_slow(PyThreadState *ts, glass_frame *f, int throwflag, PyObject *code, uintptr_t x)
{
	if (T.guard || G.state != GLASS_ACTIVE)
		return call_real(ts, f, throwflag);
	if (x == 0) {
		int saved = errno;
		T.guard++;
		x = decide(code, f);
		T.guard--;
		errno = saved;
	}
	if (x & GLASS_X_SPECIAL) {
		int saved = errno;
		T.guard++;
		note_thread_name(f);
		T.guard--;
		errno = saved;
		/* The thread's Python work ends here, before join() can return: its end is written
		 * now, so that it never depends on whether the process exits before this thread's
		 * last C-level teardown (the stream is sealed then, or by the reader's tolerance). */
		PyObject *r = x & GLASS_X_TRACED ? eval_traced(ts, f, throwflag, x)
						 : call_real(ts, f, throwflag);
		if (T.epoch == G.epoch && T.s.proc && !T.ended) {
			saved = errno;
			glass_emit_thread_cpu(&T.s, glass_ticks());
			glass_emit3(&T.s, GLASS_REC_THREAD_END, glass_ticks(), 1, 0, 0, 0);
			T.ended = 1;
			errno = saved;
		}
		return r;
	}
	if (x & GLASS_X_TRACED)
		return eval_traced(ts, f, throwflag, x);
	return call_real(ts, f, throwflag);
}

/* Everything but the untraced call: the traced call's own fast path, then the rest. */
static PyObject *__attribute__((noinline))
eval_more(PyThreadState *ts, glass_frame *f, int throwflag, uintptr_t x)
{
	/* a plain traced call on a ready thread: the one traced path that must be fast */
	if (GLASS_LIKELY((x & (GLASS_X_TRACED | GLASS_X_GEN | GLASS_X_SPECIAL)) == GLASS_X_TRACED &&
			 T.epoch == G.epoch && !T.guard && T.s.depth < G.depth_limit)) {
		return trace_call(ts, f, throwflag, (uint32_t)(x >> GLASS_X_ID_SHIFT));
	}
	if (x == GLASS_X_SKIP)
		return call_real(ts, f, throwflag);
	return eval_slow(ts, f, throwflag, glass_frame_code(f), x);
}

/*
 * The evaluator CPython calls for every frame. Most frames belong to code the policy leaves
 * out, and their cost is what every program pays: that path is a leaf that jumps to CPython's
 * evaluator (about 20 instructions, no stack frame of its own). It needs a cached decision and
 * a known stack limit this thread is clear of (stack_low - 1 wraps when the limit is not known
 * yet); anything else goes to eval_more. glass_eval_units is the evaluator when recursion units
 * are given back (3.12+).
 */
static inline uintptr_t stack_pointer_now(void)
{
#if defined(__x86_64__)
	uintptr_t sp;
	__asm__("mov %%rsp, %0" : "=r"(sp));
	return sp;
#else
	return (uintptr_t)__builtin_frame_address(0);
#endif
}

PyObject *glass_eval(PyThreadState *ts, glass_frame *f, int throwflag)
{
	uintptr_t x = glass_code_extra_slot(glass_frame_code(f), G.extra_slot);
	if (GLASS_LIKELY(x == GLASS_X_SKIP && stack_pointer_now() > (uintptr_t)T.stack_low - 1))
		return G.real_eval(ts, f, throwflag);
	return eval_more(ts, f, throwflag, x);
}

/* The same for 3.12+, which spend C recursion units per evaluator call (see call_real). */
PyObject *glass_eval_units(PyThreadState *ts, glass_frame *f, int throwflag)
{
	uintptr_t x = glass_code_extra_slot(glass_frame_code(f), G.extra_slot);
	if (GLASS_LIKELY(x == GLASS_X_SKIP && stack_pointer_now() > (uintptr_t)T.stack_low - 1)) {
		int *rem = glass_tstate_c_recursion(ts);
		*rem += G.rec_units;
		PyObject *r = G.real_eval(ts, f, throwflag);
		*rem -= G.rec_units;
		return r;
	}
	return eval_more(ts, f, throwflag, x);
}

/* ---- generators closed without running (3.13) ------------------------------------------------
 *
 * CPython 3.13 closes a generator suspended at a plain yield (no try block around it) by marking
 * it completed, without evaluating its frame again: the evaluator never sees the end. Wrapping
 * the close method and tp_finalize of generators and coroutines lets us record that end. When
 * close does run the frame, the span was already closed through the evaluator and the reader
 * ignores the GEN_CLOSE. */

typedef PyObject *(*glass_close_fn)(PyObject *, PyObject *);
typedef void (*glass_finalize_fn)(PyObject *);

static glass_close_fn real_close[2];
static glass_finalize_fn real_finalize[2];

static void note_silent_close(PyObject *gen, int8_t before)
{
	int8_t *state = (int8_t *)gen + glass_cx.gen_iframe + GLASS_GEN_STATE_FROM_IFRAME;
	if (!glass_gen_state_suspended(before) || glass_gen_state_suspended(*state))
		return;
	glass_frame *f = (glass_frame *)((char *)gen + glass_cx.gen_iframe);
	uintptr_t x = glass_code_extra(glass_frame_code(f), G.extra_idx);
	if (!(x & GLASS_X_TRACED) || T.epoch != G.epoch || T.guard)
		return;
	glass_emit_gen_close(&T.s, glass_ticks(), (uintptr_t)gen);
}

#define GLASS_CLOSE_WRAPPER(i)                                                                  \
	static PyObject *close_wrapper_##i(PyObject *gen, PyObject *arg)                        \
	{                                                                                       \
		int8_t before = *((int8_t *)gen + glass_cx.gen_iframe +                         \
				  GLASS_GEN_STATE_FROM_IFRAME);                                  \
		PyObject *r = real_close[i](gen, arg);                                           \
		note_silent_close(gen, before);                                                 \
		return r;                                                                       \
	}                                                                                       \
	static void finalize_wrapper_##i(PyObject *gen)                                          \
	{                                                                                       \
		int8_t before = *((int8_t *)gen + glass_cx.gen_iframe +                         \
				  GLASS_GEN_STATE_FROM_IFRAME);                                  \
		real_finalize[i](gen);                                                          \
		note_silent_close(gen, before);                                                 \
	}
GLASS_CLOSE_WRAPPER(0)
GLASS_CLOSE_WRAPPER(1)

void glass_watch_silent_close(void)
{
	if (glass_cx.minor < 13)
		return;
	const char *types[2] = {"PyGen_Type", "PyCoro_Type"};
	glass_close_fn cw[2] = {close_wrapper_0, close_wrapper_1};
	glass_finalize_fn fw[2] = {finalize_wrapper_0, finalize_wrapper_1};
	for (int i = 0; i < 2; i++) {
		char *type = dlsym(RTLD_DEFAULT, types[i]);
		if (!type)
			continue;
		struct glass_methoddef *m = GLASS_AT(type, GLASS_TP_METHODS_OFF, void *);
		for (; m && m->ml_name; m++) {
			if (strcmp(m->ml_name, "close") == 0) {
				real_close[i] = (glass_close_fn)m->ml_meth;
				m->ml_meth = (void *)cw[i];
			}
		}
		glass_finalize_fn *fin = &GLASS_AT(type, GLASS_TP_FINALIZE_OFF, glass_finalize_fn);
		if (*fin) {
			real_finalize[i] = *fin;
			*fin = fw[i];
		}
	}
}

/* ---- generators created without evaluating their frame (3.9, 3.10) --------------------------
 *
 * There the call of a generator function never reaches the evaluator: compat.c reports each
 * new object it sees (watched generator functions, CPython's constructors) here, and it is
 * recorded as on 3.11+, where eval_traced sees the creating call. */
void glass_gen_created(glass_frame *f, PyObject *gen)
{
	if (G.state != GLASS_ACTIVE || T.guard ||
	    glass_py.InterpreterState_Get() != glass_py.InterpreterState_Main())
		return;
	PyObject *code = glass_frame_code(f);
	uintptr_t x = glass_code_extra_slot(code, G.extra_slot);
	int saved = errno;
	if (x == 0) {
		T.guard++;
		x = decide(code, f);
		T.guard--;
	}
	if ((x & GLASS_X_TRACED) &&
	    (T.epoch == G.epoch || (T.tried != G.epoch && glass_thread_start() == 0)) &&
	    T.s.depth < G.depth_limit)
		glass_emit_gen_create(&T.s, glass_ticks(), (uint32_t)(x >> GLASS_X_ID_SHIFT),
				      (uintptr_t)gen);
	errno = saved;
}
