/* preload/span-events.c — events inside spans: exceptions raised in traced code, and stdlib
 * logging records.
 *
 * Exceptions: an escaping exception is already seen by the evaluator (RAISE record). One that
 * is raised and caught inside the same frame never leaves it, and a PEP 523 evaluator has no
 * per-raise hook: on 3.12+ sys.monitoring's RAISE event (global, no bytecode instrumented, a
 * call only when something is raised) tells us, and code the policy does not trace is passed
 * over at once. The first traced frame an exception is raised in or reaches writes
 * EXC_RAISED; whether it was caught there the reader learns from that frame's end. 3.11 has no
 * such event: there only escaping exceptions are recorded (docs/capture.md says so).
 *
 * Logging: logging.Logger.callHandlers is watched like the hand-offs of span-links.c, so a
 * record costs something only when it passed the logger's level and filters.
 */
#include "glass.h"
#include "engine.h"
#include "capture.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/policy.h"

#define GLASS_MON_TOOL 4 /* free by convention (0 debugger, 1 coverage, 2 profiler, 5 opt.) */

struct saved {
	PyObject *a, *b, *c;
};

static void save_exc(struct saved *s)
{
	if (glass_py.Err_GetRaisedException) {
		s->a = glass_py.Err_GetRaisedException();
		s->b = s->c = NULL;
	} else {
		glass_py.Err_Fetch(&s->a, &s->b, &s->c);
	}
}

static void restore_exc(struct saved *s)
{
	glass_py.Err_Clear();
	if (glass_py.Err_SetRaisedException)
		glass_py.Err_SetRaisedException(s->a);
	else
		glass_py.Err_Restore(s->a, s->b, s->c);
}

/* ---- exceptions (3.12+) ----------------------------------------------------------------- */

static PyObject *on_raise(PyObject *self, PyObject *const *args, size_t nargsf)
{
	(void)self;
	size_t n = nargsf & ~((size_t)1 << (8 * sizeof(size_t) - 1));
	if (n >= 3 && !T.guard && T.epoch == G.epoch && G.state == GLASS_ACTIVE && args[0] &&
	    args[0]->ob_type == glass_py.Code_Type && args[2]) {
		uintptr_t x = glass_code_extra(args[0], G.extra_idx);
		PyObject *exc = args[2];
		if ((x & GLASS_X_TRACED) && exc != T.last_exc_value) {
			int saved = errno;
			uint64_t ref = glass_exc_ref((PyObject *)exc->ob_type, exc);
			glass_emit_exc_raised(&T.s, glass_ticks(), ref);
			errno = saved;
		}
	}
	glass_py.IncRef(glass_py.None);
	return glass_py.None;
}

static struct glass_methoddef raise_def = {"glass_raise", (void *)on_raise, 0x80 /* FASTCALL */,
					   NULL};

static PyObject *call(PyObject *o, const char *name, const char *fmt, long a, const char *s)
{
	return fmt[1] == 's' ? glass_py.Object_CallMethod(o, name, fmt, a, s)
			     : glass_py.Object_CallMethod(o, name, fmt, a);
}

static void watch_raises(void)
{
	PyObject *mon = glass_py.Sys_GetObject("monitoring"); /* borrowed */
	if (!mon) {
		glass_py.Err_Clear();
		return;
	}
	/* under the sys.monitoring engine, RAISE joins the events of glass's own tool */
	int tool = glass_monitoring_tool();
	long have = 0;
	if (tool >= 0) {
		PyObject *cur = call(mon, "get_events", "i", tool, NULL);
		have = cur ? glass_py.Long_AsLong(cur) : -1;
		if (cur)
			glass_py.DecRef(cur);
		if (have < 0) {
			glass_py.Err_Clear();
			return;
		}
	} else {
		tool = GLASS_MON_TOOL;
		PyObject *r = call(mon, "get_tool", "i", tool, NULL);
		int free_tool = r == glass_py.None;
		if (r)
			glass_py.DecRef(r);
		if (!free_tool) {
			glass_py.Err_Clear();
			glass_log(2, "sys.monitoring tool %d is taken: caught exceptions are not recorded",
				  tool);
			return;
		}
	}
	PyObject *events = glass_py.Object_GetAttrString(mon, "events");
	PyObject *ev = events ? glass_py.Object_GetAttrString(events, "RAISE") : NULL;
	long raise_ev = ev ? glass_py.Long_AsLong(ev) : -1;
	if (events)
		glass_py.DecRef(events);
	if (ev)
		glass_py.DecRef(ev);
	PyObject *fn = raise_ev > 0 ? glass_py.CFunction_NewEx(&raise_def, NULL, NULL) : NULL;
	PyObject *a = !fn ? NULL
		      : have ? (glass_py.IncRef(glass_py.None), glass_py.None)
			     : glass_py.Object_CallMethod(mon, "use_tool_id", "is", tool, "glass");
	PyObject *b = a ? glass_py.Object_CallMethod(mon, "register_callback", "ilO", tool,
						     raise_ev, fn)
			: NULL;
	PyObject *c =
	    b ? glass_py.Object_CallMethod(mon, "set_events", "il", tool, have | raise_ev) : NULL;
	if (!c)
		glass_log(2, "sys.monitoring refused glass's RAISE callback: caught exceptions are "
			     "not recorded");
	PyObject *objs[] = {fn, a, b, c};
	for (size_t i = 0; i < 4; i++)
		if (objs[i])
			glass_py.DecRef(objs[i]);
	glass_py.Err_Clear();
}

/* ---- logging ------------------------------------------------------------------------------ */

static int level_of(const char *s)
{
	static const struct {
		const char *name;
		int level;
	} names[] = {{"OFF", -1},  {"NONE", -1},  {"DEBUG", 10},    {"INFO", 20},  {"WARNING", 30},
		     {"WARN", 30}, {"ERROR", 40}, {"CRITICAL", 50}, {"FATAL", 50}, {"NOTSET", 0}};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(s, names[i].name))
			return names[i].level;
	char *end;
	long v = strtol(s, &end, 10);
	if (end != s && !*end && v >= 0 && v < 1000)
		return (int)v;
	glass_log(1,
		  "%s: log_level '%s' is not off, DEBUG, INFO, WARNING, ERROR, CRITICAL or a "
		  "number; INFO is used (fix the policy file)",
		  G.policy_path[0] ? G.policy_path : "policy", s);
	return 20;
}

/*
 * Values of secret-looking names in free text ("password=hunter2", "token: abc") become ***:
 * a name the capture hooks treat as secret (glass_cap_is_secret: the built-in list and the
 * policy's redact patterns) followed by '=' or ':'. Returns the new length (in place).
 */
static size_t redact_text(char *s, size_t n, size_t cap)
{
	size_t i = 0;
	while (i < n) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      s[i] == '_')) {
			i++;
			continue;
		}
		size_t w = i;
		while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
				 (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			i++;
		size_t wl = i - w, j = i;
		if (j < n && (s[j] == '"' || s[j] == '\''))
			j++;
		while (j < n && s[j] == ' ')
			j++;
		if (j >= n || (s[j] != '=' && s[j] != ':') || !glass_cap_is_secret(s + w, wl))
			continue;
		j++;
		while (j < n && s[j] == ' ')
			j++;
		char q = j < n && (s[j] == '"' || s[j] == '\'') ? s[j] : 0;
		if (q)
			j++;
		size_t v = j;
		while (j < n && (q ? s[j] != q
				   : !(s[j] == ' ' || s[j] == ',' || s[j] == ';' || s[j] == '&' ||
				       s[j] == ')' || s[j] == '}')))
			j++;
		if (j == v)
			continue;
		/* the value [v, j) becomes *** */
		size_t rest = n - j;
		if (v + 3 + rest > cap)
			rest = cap > v + 3 ? cap - v - 3 : 0;
		memmove(s + v + 3, s + j, rest);
		memcpy(s + v, "***", 3);
		n = v + 3 + rest;
		i = v + 3;
	}
	return n;
}

void glass_events_log(PyObject *record)
{
	if (T.guard)
		return;
	T.guard++; /* getMessage() and attribute lookups run Python code: recorded nowhere */
	int saved_errno = errno;
	struct saved se;
	save_exc(&se);
	PyObject *lv = glass_py.Object_GetAttrString(record, "levelno");
	long level = lv && lv->ob_type == glass_py.Long_Type ? glass_py.Long_AsLong(lv) : -1;
	if (lv)
		glass_py.DecRef(lv);
	glass_py.Err_Clear();
	if (level >= G.log_min && level >= 0) {
		PyObject *name = glass_py.Object_GetAttrString(record, "name");
		glass_py.Err_Clear();
		PyObject *msg = glass_py.Object_CallMethod(record, "getMessage", NULL);
		glass_py.Err_Clear();
		size_t nl = 0, ml = 0;
		const char *ns = glass_str_utf8(name, &nl);
		char nbuf[GLASS_MAX_NAME];
		if (ns) { /* keep a copy: glass_str_utf8 may reuse its buffer for the message */
			nl = nl < sizeof(nbuf) ? nl : sizeof(nbuf);
			memcpy(nbuf, ns, nl);
		}
		const char *ms = glass_str_utf8(msg, &ml);
		char mbuf[GLASS_MAX_MESSAGE + 64];
		size_t mlen = 0;
		if (ms) {
			mlen = ml < GLASS_MAX_MESSAGE ? ml : GLASS_MAX_MESSAGE;
			memcpy(mbuf, ms, mlen);
			mlen = redact_text(mbuf, mlen, GLASS_MAX_MESSAGE);
			if (ml > GLASS_MAX_MESSAGE && mlen + 3 <= sizeof(mbuf)) {
				memcpy(mbuf + mlen, "...", 3);
				mlen += 3;
			}
		}
		if (T.epoch == G.epoch && T.s.proc)
			glass_emit_log(&T.s, glass_ticks(), (uint64_t)level, ns ? nbuf : NULL, nl,
				       ms ? mbuf : NULL, mlen);
		if (name)
			glass_py.DecRef(name);
		if (msg)
			glass_py.DecRef(msg);
	}
	restore_exc(&se);
	errno = saved_errno;
	T.guard--;
}

void glass_events_install(void)
{
	glass_capture_install();
	const char *ll = glass_policy_option_str(G.policy, "log_level", "INFO");
	G.log_min = level_of(ll);
	if (glass_cx.minor >= 12 && glass_policy_option_int(G.policy, "exception_events", 0)) {
		struct saved se;
		save_exc(&se);
		T.guard++;
		watch_raises();
		T.guard--;
		restore_exc(&se);
	}
}
