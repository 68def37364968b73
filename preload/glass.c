/* preload/glass.c — libglass.so: start-up, the audit hook that finds the interpreter, exit and fork.
 *
 * In a process that is not Python the constructor does one dlsym and nothing else. In Python
 * it adds an audit hook (legal before Py_Initialize); the first audit event after the
 * interpreter is initialised installs the PEP 523 evaluator on the main thread with the GIL
 * held. Every problem before that point prints one "glass: ..." line and leaves the host alone.
 */
#include "glass.h"
#include "capture.h"
#include "engine.h"

#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "policy/policy.h"

struct glass_global G;
__thread struct glass_thread T __attribute__((tls_model("initial-exec")));

#define GLASS_DEFAULT_CHUNK_KB 2048
#define GLASS_DEFAULT_COMPRESS_MS 100

void glass_log(int level, const char *fmt, ...)
{
	if (G.log_level < level)
		return;
	int saved = errno;
	char buf[2048];
	int n = snprintf(buf, sizeof(buf), "glass: ");
	va_list ap;
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = (int)sizeof(buf) - 2;
	/* values come from the environment and files: one line, no terminal control */
	for (int i = 7; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			buf[i] = '?';
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0) {
		/* nowhere else to say it */
	}
	errno = saved;
}

void glass_switch_off(const char *why)
{
	if (why)
		glass_log(1, "%s; tracing disabled", why);
	/* The evaluator stays installed (frames on the C stack still return through it) but
	 * from now on it only forwards: no thread's epoch matches any more. */
	G.state = GLASS_OFF;
	__atomic_add_fetch(&G.epoch, 1, __ATOMIC_RELEASE);
}

/* ---- clock ----------------------------------------------------------------------------------- */

static int tsc_is_invariant(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
		return 0;
	__get_cpuid(0x80000007, &a, &b, &c, &d);
	return (d >> 8) & 1; /* invariant TSC: constant rate, runs in deep C-states */
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- exit, _exit, fork, thread end ----------------------------------------------------------- */

static void write_end(const char *how, int status)
{
	glass_cap_write_stats();
	char buf[128];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	msgpack_pack_uint8(&pk, GLASS_REC_END);
	msgpack_pack_uint64(&pk, glass_ticks());
	msgpack_pack_int64(&pk, status);
	glass_pack_cstr(&pk, how);
	glass_proc_writer_append(&G.proc, mb.data, mb.len);
}

static int owns_process(void)
{
	/* a vfork child shares our memory: it must not touch the recording */
	return G.proc_ready && G.proc.hdr && (uint32_t)syscall(SYS_getpid) == G.pid;
}

static void on_exit_handler(int status, void *arg)
{
	int saved = errno;
	if (!owns_process())
		goto out;
	glass_thread_finish(&T, GLASS_CHUNK_LAST);
	uint64_t ticks = glass_ticks(), mono = glass_mono_ns();
	glass_proc_writer_calibrate(&G.proc, ticks, mono);
	write_end("exit", status);
	glass_proc_writer_end(&G.proc, GLASS_PROC_EXITED, status, ticks, mono);
	if (!glass_compressor_alive())
		glass_proc_writer_compress(&G.proc, G.compress_budget_ns);
	glass_session_detach();
out:
	errno = saved;
}

typedef void (*exit_fn)(int) __attribute__((noreturn));
static exit_fn real__exit;

/* os._exit() ends the process without exit handlers: note the end, no compression. */
__attribute__((visibility("default"), noreturn)) void _exit(int status)
{
	if (owns_process()) {
		uint64_t ticks = glass_ticks(), mono = glass_mono_ns();
		glass_thread_finish(&T, GLASS_CHUNK_LAST);
		glass_proc_writer_calibrate(&G.proc, ticks, mono);
		write_end("_exit", status);
		glass_proc_writer_end(&G.proc, GLASS_PROC_UNDERSCORE_EXIT, status, ticks, mono);
		glass_session_detach();
	}
	if (real__exit)
		real__exit(status);
	syscall(SYS_exit_group, status);
	for (;;)
		;
}

static void thread_key_destructor(void *p)
{
	int saved = errno;
	glass_thread_finish(p, GLASS_CHUNK_LAST);
	errno = saved;
}

/* In a fork child the recording belongs to the parent: every mapping we hold is shared with
 * it. Drop them untouched; the child's first traced call starts its own p<pid>.0 in the same
 * session (lazily: nothing here may allocate or take locks after fork). */
/* The parent's meta file size just before fork(): the code definitions up to there are the
 * child's too. Measured in the parent, before the fork: measured in the child, it would also
 * count what the parent appended since (code ids the child hands out again). The forking
 * thread holds the GIL, so no other thread defines code in between. */
static uint64_t meta_size_at_fork;

static void atfork_prepare(void)
{
	glass_links_prepare_fork();
	meta_size_at_fork =
	    G.state == GLASS_ACTIVE && G.proc_ready ? glass_proc_writer_meta_size(&G.proc) : 0;
}

static void atfork_child(void)
{
	if (G.state != GLASS_ACTIVE)
		return;
	G.fork_meta_size = 0;
	if (G.proc_ready) {
		snprintf(G.parent_key, sizeof(G.parent_key), "%s", G.proc.key);
		snprintf(G.parent_meta, sizeof(G.parent_meta), "%s/meta", G.proc.dir);
		G.fork_meta_size = meta_size_at_fork;
	}
	glass_proc_writer_forget(&G.proc);
	glass_stream_forget(&T.s);
	glass_native_atfork_child();
	G.epoch++;
	G.pid = (uint32_t)syscall(SYS_getpid);
	G.proc_ready = 0;
	G.proc_failed = 0;
	G.registry_link[0] = 0;
	G.start_ticks = glass_ticks();
	G.start_mono = glass_mono_ns();
	G.start_real = realtime_ns();
	if (G.session_dir[0])
		snprintf(G.origin, sizeof(G.origin), "fork");
}

/* ---- install ------------------------------------------------------------------------------- */

static int audit_hook_fn(const char *event, PyObject *args, void *data);

static unsigned long python_version(void)
{
	const unsigned long *hex = dlsym(RTLD_DEFAULT, "Py_Version");
	if (hex)
		return *hex;
	const char *(*get)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "Py_GetVersion");
	const char *v = get ? get() : "0.0.0";
	unsigned maj = 0, min = 0, mic = 0;
	sscanf(v, "%u.%u.%u", &maj, &min, &mic);
	return (maj << 24) | (min << 16) | (mic << 8);
}

static const char *str_of(PyObject *o, char *buf, size_t len)
{
	size_t n;
	const char *s = glass_str_utf8(o, &n);
	snprintf(buf, len, "%.*s", s ? (int)n : 0, s ? s : "");
	return buf;
}

static int is_under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	while (l > 1 && dir[l - 1] == '/')
		l--;
	return strncmp(path, dir, l) == 0 && (path[l] == '/' || path[l] == 0);
}

/* The default policy: the user's code is what lies under the main script's directory or the
 * working directory, minus every sys.path entry outside those (stdlib, site-packages). */
static struct glass_policy *default_policy(const char *script_dir, const char *cwd)
{
	const char *roots[2];
	size_t nroots = 0;
	if (script_dir[0])
		roots[nroots++] = script_dir;
	if (cwd[0] && (!nroots || strcmp(cwd, script_dir)))
		roots[nroots++] = cwd;
	static char excl_buf[64][PATH_MAX];
	const char *excl[64];
	size_t nexcl = 0;
	PyObject *path = glass_py.Sys_GetObject("path"); /* borrowed */
	intptr_t n = path ? glass_py.List_Size(path) : 0;
	if (n < 0) {
		glass_py.Err_Clear();
		n = 0;
	}
	for (intptr_t i = 0; i < n && nexcl < 64; i++) {
		char *e = excl_buf[nexcl];
		str_of(glass_py.List_GetItem(path, i), e, PATH_MAX);
		if (e[0] != '/')
			continue;
		int keep = 1;
		for (size_t r = 0; r < nroots; r++)
			if (is_under(e, roots[r]) || is_under(roots[r], e))
				keep = 0;
		if (keep)
			excl[nexcl++] = e;
	}
	return glass_policy_default(roots, nroots, excl, nexcl);
}

static int load_policy(const char *script_dir, const char *cwd)
{
	char path[PATH_MAX] = "", err[1024], warn[1024];
	const char *env = getenv("GLASS_POLICY");
	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else if (!glass_policy_find(cwd, path, sizeof(path)) &&
		   !(script_dir[0] && glass_policy_find(script_dir, path, sizeof(path)))) {
		path[0] = 0;
	}
	if (path[0]) {
		G.policy = glass_policy_load(path, err, sizeof(err), warn, sizeof(warn));
		if (!G.policy) {
			glass_log(1, "%s; tracing disabled", err);
			return -1;
		}
		if (warn[0])
			glass_log(1, "%s", warn);
		snprintf(G.policy_mode, sizeof(G.policy_mode), "file");
		snprintf(G.policy_path, sizeof(G.policy_path), "%s", path);
	} else {
		G.policy = default_policy(script_dir, cwd);
		if (!G.policy) {
			glass_log(1, "out of memory building the default policy; tracing disabled");
			return -1;
		}
		snprintf(G.policy_mode, sizeof(G.policy_mode), "default");
	}
	snprintf(G.policy_desc, sizeof(G.policy_desc), "%s", glass_policy_summary(G.policy));
	G.depth_limit = glass_policy_trace_depth(G.policy);
	if (!G.depth_limit)
		G.depth_limit = UINT32_MAX;
	glass_cap_configure(G.policy);
	return 0;
}

/* The main script's directory from a cpython.run_file event, else sys.path[0]. */
static void script_dir_of(const char *event, PyObject *args, char *out, size_t len)
{
	char buf[PATH_MAX];
	out[0] = 0;
	if (strcmp(event, "cpython.run_file") == 0 && args &&
	    (glass_type_flags(args->ob_type) & GLASS_TPFLAGS_TUPLE_SUBCLASS) &&
	    GLASS_AT(args, GLASS_VAR_SIZE_OFF, intptr_t) >= 1) {
		str_of(GLASS_AT(args, GLASS_TUPLE_ITEMS_OFF, PyObject *), buf, sizeof(buf));
		char real[PATH_MAX];
		if (buf[0] && realpath(buf, real)) {
			struct stat st;
			if (stat(real, &st) == 0 && S_ISDIR(st.st_mode))
				snprintf(out, len, "%s", real);
			else
				snprintf(out, len, "%s", dirname(real));
			return;
		}
	}
	PyObject *path = glass_py.Sys_GetObject("path");
	if (path && glass_py.List_Size(path) > 0) {
		str_of(glass_py.List_GetItem(path, 0), buf, sizeof(buf));
		char real[PATH_MAX];
		if (buf[0] && realpath(buf, real))
			snprintf(out, len, "%s", real);
	}
	glass_py.Err_Clear();
}

static int abi_unsupported(void)
{
	char flags[32];
	str_of(glass_py.Sys_GetObject("abiflags"), flags, sizeof(flags));
	glass_py.Err_Clear();
	return strchr(flags, 'd') || strchr(flags, 't');
}

static void install(const char *event, PyObject *args)
{
	G.state = GLASS_OFF; /* until everything below succeeded */
	const char *missing = NULL;
	/* the version was checked and glass_cx chosen by the constructor */
	if (glass_pyapi_resolve(&missing) != 0) {
		glass_log(1, "this Python lacks %s; tracing disabled", missing);
		return;
	}
	if (abi_unsupported()) {
		glass_log(1, "debug and free-threaded Python builds are not supported; tracing "
			     "disabled");
		return;
	}
	PyInterpreterState *interp = glass_py.InterpreterState_Get();
	if (interp != glass_py.InterpreterState_Main())
		return;
	char cwd[PATH_MAX] = "", script_dir[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	script_dir_of(event, args, script_dir, sizeof(script_dir));
	snprintf(G.script_dir, sizeof(G.script_dir), "%s", script_dir);
	G.await_run = strncmp(event, "cpython.run_", 12) != 0;
	if (load_policy(script_dir, cwd) != 0)
		return;
	intptr_t idx = glass_py.RequestCodeExtraIndex(glass_code_extra_freed);
	if (idx < 0) {
		glass_py.Err_Clear();
		glass_log(1, "no co_extra slot left in this interpreter; tracing disabled");
		return;
	}
	G.extra_idx = (int)idx;
	G.extra_slot = (int)idx + 1;
	G.name_str = glass_py.Unicode_InternFromString("__name__");
	G.module_str = glass_py.Unicode_InternFromString("__module__");
	if (!G.name_str || !G.module_str) {
		glass_py.Err_Clear();
		return;
	}
	if (pthread_key_create(&G.thread_key, thread_key_destructor) != 0)
		return;
	on_exit(on_exit_handler, NULL);
	pthread_atfork(atfork_prepare, glass_links_after_fork_parent, atfork_child);
	/* The session exists from the start of the run, so that every process of it (gunicorn
	 * workers forked from a master that traces nothing themselves) records into it. The process
	 * directory comes with the first traced call. */
	if (glass_session_attach() != 0)
		return;
	const struct glass_engine *engine = glass_engine_choose();
	G.epoch = 1;
	G.state = GLASS_ACTIVE;
	if (engine->install(interp) != 0) {
		if (engine == &glass_engine_eval) {
			G.state = GLASS_OFF;
			return;
		}
		engine = &glass_engine_eval; /* it said why in its one line */
		if (engine->install(interp) != 0) {
			G.state = GLASS_OFF;
			return;
		}
	}
	G.engine = engine;
	glass_native_install();
	glass_events_install();
	glass_watch_silent_close();
	if (G.await_run)
		glass_log(2, "installed at audit event %s, before the main program", event);
	glass_log(2, "tracing with the %s engine, policy: %s", G.engine->name, G.policy_desc);
}

/* The interpreter can be ready before the main program is known: site imports raise audit
 * events first. The cpython.run_* event that follows names the main script, whose directory
 * then joins the default policy's roots (or holds the policy file). Code objects decided before
 * that (site, sitecustomize) keep their decision. Embedders never raise run_*. */
static void refine_for_main(const char *event, PyObject *args)
{
	G.await_run = 0;
	char cwd[PATH_MAX] = "", script_dir[PATH_MAX];
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = 0;
	script_dir_of(event, args, script_dir, sizeof(script_dir));
	if (!script_dir[0] || strcmp(script_dir, G.script_dir) == 0 ||
	    strcmp(G.policy_mode, "file") == 0)
		return;
	char path[PATH_MAX];
	if (getenv("GLASS_POLICY") || glass_policy_find(cwd, path, sizeof(path)))
		return;
	struct glass_policy *old = G.policy;
	snprintf(G.script_dir, sizeof(G.script_dir), "%s", script_dir);
	if (load_policy(script_dir, cwd) != 0) {
		G.policy = old;
		glass_switch_off(NULL);
		return;
	}
	glass_policy_free(old);
}

static int (*py_is_initialized)(void);
static struct glass_audit_entry **audit_head; /* &_PyRuntime's list head, once verified */
static struct glass_audit_entry *audit_entry; /* ours, in that list */

/* Our audit hook's list entry was allocated by PySys_AddAuditHook before Py_Initialize, with
 * the allocator of that moment; under PYTHONMALLOC=debug or -X dev, Py_Finalize would free it
 * with the debug allocator and abort. Once the hook has done its job we unlink the entry (the
 * audit loop calling us has already read it and goes on with its next) and never free it: 24
 * bytes, still reachable from here. */
static void audit_find_entry(unsigned long version)
{
	if (glass_compat_init(version) != 0)
		return;
	char *runtime = dlsym(RTLD_DEFAULT, "_PyRuntime");
	if (!runtime)
		return;
	struct glass_audit_entry **head =
		(struct glass_audit_entry **)(runtime + glass_cx.runtime_audit_head);
	/* right after PySys_AddAuditHook, before Py_Initialize: the list holds only hooks added
	 * this early, ours last; finding it proves the offset */
	struct glass_audit_entry *e = *head;
	for (int i = 0; e && i < 16; i++, e = e->next) {
		if (e->hook == (void *)audit_hook_fn && e->data == (void *)&G) {
			audit_head = head;
			audit_entry = e;
			return;
		}
	}
}

static void audit_unlink(void)
{
	if (!audit_head || !audit_entry)
		return;
	struct glass_audit_entry **link = audit_head;
	for (int i = 0; *link && i < 64; i++, link = &(*link)->next) {
		if (*link == audit_entry) {
			*link = audit_entry->next;
			audit_entry = NULL;
			return;
		}
	}
}

/* Called for every audited event for the rest of the process: one flag test once installed. */
static int audit_hook_fn(const char *event, PyObject *args, void *data)
{
	if (GLASS_LIKELY(G.state != GLASS_WAITING && !G.await_run))
		return 0;
	int saved = errno;
	if (G.state == GLASS_WAITING) {
		if (py_is_initialized && py_is_initialized())
			install(event, args);
	} else if (strncmp(event, "cpython.run_", 12) == 0 && G.state == GLASS_ACTIVE) {
		refine_for_main(event, args);
	}
	if (G.state != GLASS_WAITING && !G.await_run)
		audit_unlink(); /* done: no further event needs us */
	errno = saved;
	return 0;
}

static uint32_t env_u32(const char *name, uint32_t dflt, uint32_t lo, uint32_t hi)
{
	const char *v = getenv(name);
	if (!v || !*v)
		return dflt;
	char *end;
	unsigned long x = strtoul(v, &end, 10);
	if (*end || x < lo || x > hi) {
		glass_log(1, "ignoring %s=%s (expected a number from %u to %u)", name, v, lo, hi);
		return dflt;
	}
	return (uint32_t)x;
}

__attribute__((constructor)) static void glass_init(void)
{
	int saved = errno;
	real__exit = (exit_fn)dlsym(RTLD_NEXT, "_exit");
	void *add = dlsym(RTLD_DEFAULT, "PySys_AddAuditHook");
	if (!add)
		goto out; /* not a Python process: stay out of its way entirely */
	const char *lvl = getenv("GLASS_LOG");
	G.log_level = 1;
	if (lvl && !strcmp(lvl, "quiet"))
		G.log_level = 0;
	else if (lvl && !strcmp(lvl, "debug"))
		G.log_level = 2;
	else if (lvl && *lvl && strcmp(lvl, "info"))
		glass_log(1, "ignoring GLASS_LOG=%s (expected quiet, info or debug)", lvl);
	const char *dis = getenv("GLASS_DISABLE");
	if (dis && *dis && strcmp(dis, "0"))
		goto out;

	G.use_tsc = tsc_is_invariant() && !getenv("GLASS_NO_TSC");
	G.pid = (uint32_t)getpid();
	G.start_ticks = glass_ticks();
	G.start_mono = glass_mono_ns();
	G.start_real = realtime_ns();
	G.chunk_size = env_u32("GLASS_CHUNK_KB", GLASS_DEFAULT_CHUNK_KB, 16, 1u << 20) << 10;
	G.max_bytes = (uint64_t)env_u32("GLASS_MAX_MB", 0, 0, 1u << 30) << 20;
	G.compress_budget_ns =
		(uint64_t)env_u32("GLASS_COMPRESS_MS", GLASS_DEFAULT_COMPRESS_MS, 0, 3600000) *
		1000000ull;

	const char *out = getenv("GLASS_OUT");
	char cwd[PATH_MAX];
	int olen;
	if (!out || !*out)
		out = "glass-out";
	if (out[0] == '/')
		olen = snprintf(G.out_dir, sizeof(G.out_dir), "%s", out);
	else if (getcwd(cwd, sizeof(cwd)))
		olen = snprintf(G.out_dir, sizeof(G.out_dir), "%s/%s", cwd, out);
	else
		goto out;
	int out_too_long = olen < 0 || (size_t)olen >= sizeof(G.out_dir) - 64;

	py_is_initialized = (int (*)(void))dlsym(RTLD_DEFAULT, "Py_IsInitialized");
	unsigned long ver = python_version();
	if (glass_compat_init(ver) != 0) {
		/* no hook at all: nothing of ours may outlive Py_Finalize in a Python we do not know */
		glass_log(1, "Python %lu.%lu is not supported (glass supports 3.9 to 3.13); "
			     "tracing disabled",
			  (ver >> 24) & 0xff, (ver >> 16) & 0xff);
		goto out;
	}
	if (out_too_long) {
		glass_log(1, "GLASS_OUT is longer than %d bytes; set a shorter output directory; "
			     "tracing disabled",
			  (int)sizeof(G.out_dir) - 64);
		goto out;
	}
	G.state = GLASS_WAITING;
	if (((int (*)(glass_audit_fn, void *))add)(audit_hook_fn, &G) != 0) {
		G.state = GLASS_PASSIVE;
		goto out;
	}
	audit_find_entry(ver);
out:
	errno = saved;
}
