/* preload/engine-common.c — what both engines share: the process and thread streams, the decision
 * per code object, the records of an escaping exception, and generators closed without running.
 *
 * The PEP 523 engine (eval.c) and the sys.monitoring engine (engine-monitoring.c) see the same
 * activations through different doors; they write the same records through these functions, so
 * the format and every report are the same whichever engine ran.
 */
#include "glass.h"
#include "capture-db.h"
#include "engine.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/policy.h"


/* ---- the exception state around our own slow paths ------------------------------------------ */

/* Our slow paths call into CPython; a frame entered with throwflag=1 or a frame that raised
 * carries a pending exception that these calls must neither see nor clobber. */
void glass_exc_save(struct glass_saved_exc *s)
{
	if (glass_py.Err_GetRaisedException) {
		s->a = glass_py.Err_GetRaisedException();
		s->b = s->c = NULL;
	} else {
		glass_py.Err_Fetch(&s->a, &s->b, &s->c);
	}
}

void glass_exc_restore(struct glass_saved_exc *s)
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

	if (G.engine) {
		mb.len = 0;
		msgpack_pack_uint8(&pk, GLASS_REC_ENGINE);
		msgpack_pack_array(&pk, 1); /* a record added after 1.0: fields wrapped (format.h) */
		glass_pack_cstr(&pk, G.engine->name);
		if (!mb.overflow)
			glass_proc_writer_append(&G.proc, mb.data, mb.len);
	}
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
	glass_links_thread_started();
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
		glass_emit_thread_end(&t->s, glass_ticks());
		errno = saved;
	}
	if (t == &T)
		glass_native_thread_end();
	glass_stream_seal(&t->s, flags);
	t->epoch = 0;
}

void glass_note_thread_end(void)
{
	if (T.epoch != G.epoch || !T.s.proc || T.ended)
		return;
	int saved = errno;
	glass_emit_thread_cpu(&T.s, glass_ticks());
	glass_emit_thread_end(&T.s, glass_ticks());
	T.ended = 1;
	errno = saved;
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

uintptr_t glass_code_decide(PyObject *code, PyObject *globals)
{
	if (code->ob_type != glass_py.Code_Type)
		return GLASS_X_SKIP;
	struct glass_saved_exc se;
	glass_exc_save(&se);
	size_t ml = 0, fl = 0, ql = 0;
	const char *module = NULL;
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

	/* watched stdlib code (Thread._bootstrap: its thread's name and end are noted; the
	 * hand-offs of span-links.c; logging), traced or not */
	enum glass_watch watch = glass_watch_kind(module, ml, qual, ql);
	uintptr_t x = watch ? GLASS_X_SPECIAL | ((uintptr_t)watch << GLASS_X_WATCH_SHIFT) | 1
			    : GLASS_X_SKIP;
	if (glass_policy_match(G.policy, mod_z, file_z)) {
		glass_watch_generators(globals);
		if (glass_proc_start() == 0) {
			uint32_t id = ++G.next_code;
			write_code_def(id, code, module, ml, file, fl, qual, ql, line, flags);
			x |= ((uintptr_t)id << GLASS_X_ID_SHIFT) | GLASS_X_TRACED | 1;
			x |= glass_capture_bits(mod_z, qual, ql);
			if (flags & (GLASS_CO_GENERATOR | GLASS_CO_COROUTINE |
				     GLASS_CO_ASYNC_GENERATOR))
				x |= GLASS_X_GEN;
		}
	}
	glass_py.Code_SetExtra(code, G.extra_idx, (void *)x);
	glass_exc_restore(&se);
	return x;
}

/* threading's Thread._bootstrap(self) starts every Python thread: take the name from self. */
void glass_note_thread_name(PyObject *self)
{
	if (!self || (void *)((PyTypeObject *)self->ob_type)[0].ob_base.ob_type == NULL)
		return;
	/* only plain attribute lookup: a custom __getattr__ could run user code */
	void *getattro = GLASS_AT(self->ob_type, GLASS_TP_GETATTRO_OFF, void *);
	if (getattro != glass_py.Object_GenericGetAttr)
		return;
	if (!glass_thread_ready())
		return;
	struct glass_saved_exc se;
	glass_exc_save(&se);
	PyObject *name = glass_py.Object_GetAttrString(self, "_name");
	size_t len;
	const char *s = glass_str_utf8(name, &len);
	if (s)
		glass_emit_thread_name(&T.s, glass_ticks(), s, len);
	if (name)
		glass_py.DecRef(name);
	glass_exc_restore(&se);
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

uint64_t glass_exc_ref(PyObject *type, PyObject *value)
{
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
	struct glass_saved_exc se;
	glass_exc_save(&se);
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
	glass_exc_restore(&se);
	T.guard--;
	return T.last_exc_ref;
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


/* ---- which engine ------------------------------------------------------------------------- */

/* Does the policy trace every module (an included pattern "*")? Then nearly every call is
 * traced, and the evaluator records a traced call for fewer instructions than sys.monitoring
 * (README: fib, every call traced). */
static int policy_traces_all(void)
{
	const char *const *items;
	size_t n = glass_policy_option_list(G.policy, "included_packages", &items);
	for (size_t i = 0; i < n; i++)
		if (strcmp(items[i], "*") == 0)
			return 1;
	return 0;
}

const struct glass_engine *glass_engine_choose(void)
{
	const char *want = getenv("GLASS_ENGINE");
	const char *from = "GLASS_ENGINE";
	if (want && *want && strcmp(want, "auto") && strcmp(want, "eval") &&
	    strcmp(want, "monitoring")) {
		glass_log(1, "ignoring GLASS_ENGINE=%s (expected auto, eval or monitoring)", want);
		want = NULL;
	}
	if (!want || !*want) {
		want = glass_policy_option_str(G.policy, "engine", "auto");
		from = G.policy_path[0] ? G.policy_path : "the policy";
	}
	if (strcmp(want, "eval") == 0)
		return &glass_engine_eval;
	if (strcmp(want, "monitoring") == 0) {
		if (glass_cx.minor >= 12)
			return &glass_engine_monitoring;
		glass_log(1, "%s asks for the monitoring engine, which needs Python 3.12 or later; "
			     "using the automatic choice",
			  from);
	}
	if (glass_cx.minor >= 12 && !policy_traces_all())
		return &glass_engine_monitoring;
	return &glass_engine_eval;
}
