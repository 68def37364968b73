/* preload/args-render.c — arguments and return values of traced calls as text (opt-in).
 *
 * Glimpse's shape: "get_user(user_id=123, *args=(1, 2), **kw={'a': 1})" and "User(id=1)".
 * Values of built-in types (None, bool, int, float, str, bytes, and tuple, list, dict, set of
 * them) are written here in C without running Python code. Anything else is repr()'d with
 * recording paused on the thread ("repr": "call", the default) or shown as
 * "<module.Class object>" ("repr": "safe"); an exception in repr() becomes
 * "<repr failed: Type>" and never reaches the program. Parameters whose names look secret are
 * written "***". Text goes into a per-thread buffer (no malloc) and is cut at max_field_length.
 */
#include "glass.h"
#include "capture.h"

#include <dlfcn.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/policy.h"

#define ARGS_MAX  4096 /* largest max_field_length */
#define ITEMS_MAX 10   /* items of a container shown, then "..." */
#define DEPTH_MAX 3    /* containers inside containers */

struct capture_policy {
	int args_all, result_all;
	size_t nargs, nresult;
	const char *const *args_pat, *const *result_pat;
	size_t max_len;
	int repr_call;
	PyTypeObject *float_t, *bytes_t, *tuple_t, *list_t, *set_t, *frozenset_t, *bool_t;
	PyObject *true_o, *false_o;
	PyObject *(*repr)(PyObject *);
	int (*dict_next)(PyObject *, intptr_t *, PyObject **, PyObject **);
	int (*set_next)(PyObject *, intptr_t *, PyObject **, intptr_t *);
	int (*long_overflow)(PyObject *, int *); /* PyLong_AsLongLongAndOverflow */
};

static struct capture_policy C;

/* Which parameters of a code object are secret, found once: bit i for parameter i (the first
 * 62), bit 63 "computed"; kept in a co_extra slot of our own. */
static int mask_idx = -1;
static uint64_t secret_mask(PyObject *code, PyObject *names, int n);

static __thread char buf[ARGS_MAX + 8] __attribute__((tls_model("initial-exec")));

void glass_capture_install(void)
{
	struct glass_policy *p = G.policy;
	C.args_all = glass_policy_option_int(p, "capture_args", 0) == 1;
	C.result_all = glass_policy_option_int(p, "capture_result", 0) == 1;
	C.nargs = glass_policy_option_list(p, "capture_args", &C.args_pat);
	C.nresult = glass_policy_option_list(p, "capture_result", &C.result_pat);
	long long m = glass_policy_option_int(p, "max_field_length", 512);
	C.max_len = m < 16 ? 16 : m > ARGS_MAX ? ARGS_MAX : (size_t)m;
	const char *r = glass_policy_option_str(p, "repr", "call");
	C.repr_call = strcmp(r, "safe") != 0;
	if (strcmp(r, "safe") && strcmp(r, "call"))
		glass_log(1,
			  "%s: repr '%s' is neither call nor safe; call is used (fix the policy "
			  "file)",
			  G.policy_path[0] ? G.policy_path : "policy", r);
	if (!C.args_all && !C.result_all && !C.nargs && !C.nresult)
		return;
	C.float_t = dlsym(RTLD_DEFAULT, "PyFloat_Type");
	C.bytes_t = dlsym(RTLD_DEFAULT, "PyBytes_Type");
	C.tuple_t = dlsym(RTLD_DEFAULT, "PyTuple_Type");
	C.list_t = dlsym(RTLD_DEFAULT, "PyList_Type");
	C.set_t = dlsym(RTLD_DEFAULT, "PySet_Type");
	C.frozenset_t = dlsym(RTLD_DEFAULT, "PyFrozenSet_Type");
	C.bool_t = dlsym(RTLD_DEFAULT, "PyBool_Type");
	C.true_o = dlsym(RTLD_DEFAULT, "_Py_TrueStruct");
	C.false_o = dlsym(RTLD_DEFAULT, "_Py_FalseStruct");
	*(void **)&C.repr = dlsym(RTLD_DEFAULT, "PyObject_Repr");
	*(void **)&C.dict_next = dlsym(RTLD_DEFAULT, "PyDict_Next");
	*(void **)&C.set_next = dlsym(RTLD_DEFAULT, "_PySet_NextEntry");
	*(void **)&C.long_overflow = dlsym(RTLD_DEFAULT, "PyLong_AsLongLongAndOverflow");
	intptr_t idx = glass_py.RequestCodeExtraIndex(NULL);
	if (idx < 0)
		glass_py.Err_Clear();
	mask_idx = (int)idx;
	if (!C.repr || !C.dict_next || !C.long_overflow || mask_idx < 0) {
		glass_log(1,
			  "this Python lacks what capture_args needs; arguments are not recorded");
		C.args_all = C.result_all = 0;
		C.nargs = C.nresult = 0;
	}
}

/* "pkg" (and its submodules), a fnmatch pattern of modules, or "module:qualname". */
static int wanted(const char *const *pat, size_t n, const char *module, const char *qual)
{
	for (size_t i = 0; i < n; i++) {
		const char *colon = strchr(pat[i], ':');
		if (colon) {
			char mp[256];
			size_t ml = (size_t)(colon - pat[i]);
			if (ml >= sizeof(mp))
				continue;
			memcpy(mp, pat[i], ml);
			mp[ml] = 0;
			if (!fnmatch(mp, module, 0) && !fnmatch(colon + 1, qual, 0))
				return 1;
			continue;
		}
		size_t pl = strlen(pat[i]);
		if (!fnmatch(pat[i], module, 0) ||
		    (!strncmp(pat[i], module, pl) && module[pl] == '.'))
			return 1;
	}
	return 0;
}

uintptr_t glass_capture_bits(const char *module, const char *qual, size_t ql)
{
	if (!C.args_all && !C.result_all && !C.nargs && !C.nresult)
		return 0;
	char q[GLASS_MAX_NAME + 1];
	snprintf(q, sizeof(q), "%.*s", (int)ql, qual ? qual : "");
	uintptr_t x = 0;
	if (C.args_all || wanted(C.args_pat, C.nargs, module, q))
		x |= GLASS_X_ARGS;
	if (C.result_all || wanted(C.result_pat, C.nresult, module, q))
		x |= GLASS_X_RESULT;
	return x;
}

/* ---- the text buffer ------------------------------------------------------------------------ */

struct out {
	char *p;
	size_t n, cap;
	int full;
};

static void __attribute__((noinline)) put_long(char *d, const char *s, size_t n)
{
	memcpy(d, s, n);
}

static inline void put(struct out *o, const char *s, size_t n)
{
	if (o->full)
		return;
	if (o->n + n > o->cap) {
		n = o->cap - o->n;
		o->full = 1;
	}
	char *d = o->p + o->n;
	o->n += n;
	if (n > 16) {
		put_long(d, s, n);
		return;
	}
	while (n--) /* short pieces: no call */
		*d++ = *s++;
}

static inline void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s)); /* inlined: strlen of a literal is a constant */
}

/* Decimal text of v, without printf. */
static void put_int(struct out *o, long long v)
{
	char tmp[24];
	int i = sizeof(tmp);
	unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	put(o, tmp + i, sizeof(tmp) - (size_t)i);
}

static size_t finish(struct out *o)
{
	if (o->full) {
		size_t n = o->cap >= 3 ? o->cap - 3 : 0;
		while (n > 0 && ((unsigned char)o->p[n] & 0xC0) == 0x80)
			n--; /* not inside a UTF-8 sequence */
		memcpy(o->p + n, "...", 3);
		o->n = n + 3;
	}
	return o->n;
}

static void put_quoted(struct out *o, const char *s, size_t n, char prefix)
{
	char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
	if (prefix)
		put(o, &prefix, 1);
	put(o, &q, 1);
	size_t run = 0;
	for (size_t i = 0; i < n && !o->full; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char hex[5];
		if (c == (unsigned char)q || c == '\\')
			esc = c == '\\' ? "\\\\" : q == '\'' ? "\\'" : "\\\"";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20 || c == 0x7f || (prefix && c >= 0x80)) {
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			esc = hex;
		}
		if (!esc)
			continue;
		put(o, s + run, i - run);
		puts_(o, esc);
		run = i + 1;
	}
	put(o, s + run, n - run);
	put(o, &q, 1);
}

/* "<module.Class object>" from the type, without running code */
static void put_safe(struct out *o, PyObject *v)
{
	PyTypeObject *t = v->ob_type;
	const char *mod = NULL;
	size_t ml = 0;
	unsigned long flags = glass_type_flags(t);
	PyObject *dict = GLASS_AT(t, GLASS_TP_DICT_OFF, PyObject *);
	if ((flags & GLASS_TPFLAGS_HEAPTYPE) && dict && dict->ob_type == glass_py.Dict_Type) {
		PyObject *m = glass_py.Dict_GetItemWithError(dict, G.module_str);
		if (m)
			mod = glass_str_utf8(m, &ml);
		else
			glass_py.Err_Clear();
	}
	puts_(o, "<");
	if (mod && ml && !(ml == 8 && !memcmp(mod, "builtins", 8))) {
		put(o, mod, ml);
		puts_(o, ".");
	}
	puts_(o, t->tp_name ? t->tp_name : "?");
	puts_(o, " object>");
}

static void put_repr(struct out *o, PyObject *v)
{
	if (!C.repr_call) {
		put_safe(o, v);
		return;
	}
	PyObject *r = C.repr(v);
	if (r) {
		size_t n;
		const char *s = glass_str_utf8(r, &n);
		if (s)
			put(o, s, n);
		glass_py.DecRef(r);
		glass_py.Err_Clear();
		return;
	}
	PyObject *type, *value, *tb, *exc = NULL;
	if (glass_py.Err_GetRaisedException) {
		exc = glass_py.Err_GetRaisedException();
		type = exc ? (PyObject *)exc->ob_type : NULL;
	} else {
		glass_py.Err_Fetch(&type, &value, &tb);
	}
	puts_(o, "<repr failed: ");
	puts_(o, type ? ((PyTypeObject *)type)->tp_name : "?");
	puts_(o, ">");
	if (exc)
		glass_py.DecRef(exc);
	else {
		if (type)
			glass_py.DecRef(type);
		if (value)
			glass_py.DecRef(value);
		if (tb)
			glass_py.DecRef(tb);
	}
	glass_py.Err_Clear();
}

static void render(struct out *o, PyObject *v, int depth)
{
	if (o->full)
		return;
	if (!v) {
		puts_(o, "<unset>");
		return;
	}
	PyTypeObject *t = v->ob_type;
	char num[64];
	if (v == glass_py.None) {
		puts_(o, "None");
	} else if (v == C.true_o || v == C.false_o) {
		puts_(o, v == C.true_o ? "True" : "False");
	} else if (t == glass_py.Long_Type) {
		int overflow = 0;
		long long x = C.long_overflow(v, &overflow);
		if (overflow) {
			glass_py.Err_Clear();
			puts_(o, overflow > 0 ? "<int > 2**63>" : "<int < -2**63>");
		} else {
			put_int(o, x);
		}
	} else if (t == C.float_t) {
		double d = GLASS_AT(v, 16, double);
		snprintf(num, sizeof(num), "%.15g", d);
		if (strtod(num, NULL) != d)
			snprintf(num, sizeof(num), "%.17g", d);
		if (!strpbrk(num, ".eni"))
			strcat(num, ".0");
		puts_(o, num);
	} else if (t == glass_py.Unicode_Type) {
		size_t n;
		const char *s = glass_str_utf8(v, &n);
		if (s)
			put_quoted(o, s, n > o->cap ? o->cap : n, 0);
		else
			puts_(o, "<str>");
	} else if (t == C.bytes_t) {
		size_t n = (size_t)GLASS_AT(v, GLASS_VAR_SIZE_OFF, intptr_t);
		put_quoted(o, (const char *)v + GLASS_BYTES_DATA_OFF, n > o->cap ? o->cap : n, 'b');
	} else if ((t == C.tuple_t || t == C.list_t) && depth < DEPTH_MAX) {
		intptr_t n = GLASS_AT(v, GLASS_VAR_SIZE_OFF, intptr_t);
		PyObject **items = t == C.tuple_t ? (PyObject **)((char *)v + GLASS_TUPLE_ITEMS_OFF)
						  : GLASS_AT(v, 24, PyObject **);
		puts_(o, t == C.tuple_t ? "(" : "[");
		for (intptr_t i = 0; i < n && !o->full; i++) {
			if (i)
				puts_(o, ", ");
			if (i == ITEMS_MAX) {
				puts_(o, "...");
				break;
			}
			render(o, items[i], depth + 1);
		}
		puts_(o, t == C.tuple_t ? (n == 1 ? ",)" : ")") : "]");
	} else if (t == glass_py.Dict_Type && depth < DEPTH_MAX) {
		intptr_t pos = 0, i = 0;
		PyObject *k, *val;
		puts_(o, "{");
		while (!o->full && C.dict_next(v, &pos, &k, &val)) {
			if (i)
				puts_(o, ", ");
			if (i++ == ITEMS_MAX) {
				puts_(o, "...");
				break;
			}
			render(o, k, depth + 1);
			puts_(o, ": ");
			size_t kl;
			const char *ks =
			    k->ob_type == glass_py.Unicode_Type ? glass_str_utf8(k, &kl) : NULL;
			if (ks && glass_cap_is_secret(ks, kl))
				puts_(o, "'***'");
			else
				render(o, val, depth + 1);
		}
		puts_(o, "}");
	} else if ((t == C.set_t || t == C.frozenset_t) && C.set_next && depth < DEPTH_MAX) {
		intptr_t pos = 0, hash, i = 0;
		PyObject *k;
		puts_(o, t == C.set_t ? "{" : "frozenset({");
		while (!o->full && C.set_next(v, &pos, &k, &hash)) {
			if (i)
				puts_(o, ", ");
			if (i++ == ITEMS_MAX) {
				puts_(o, "...");
				break;
			}
			render(o, k, depth + 1);
		}
		if (!i && t == C.set_t) {
			o->n -= 1;
			puts_(o, "set()");
		} else {
			puts_(o, t == C.set_t ? "}" : "})");
		}
	} else {
		put_repr(o, v);
	}
}

/* Parameter names the issue and glimpse treat as secret, and the policy's redact list. */
static int secret_param(const char *s, size_t n)
{
	static const char *const names[] = {"password", "passwd",    "secret",	      "token",
					    "api_key",	"apikey",    "authorization", "cookie",
					    "session",	"credential"};
	char low[64];
	if (n >= sizeof(low))
		return 0;
	for (size_t i = 0; i < n; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	low[n] = 0;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(low, names[i]))
			return 1;
	if (!strcmp(low, "auth") || !strncmp(low, "auth_", 5) ||
	    (n > 5 && !strcmp(low + n - 5, "_auth")))
		return 1;
	for (size_t i = 0; i < glass_cap.nredact; i++)
		if (strcasestr(low, glass_cap.redact[i]))
			return 1;
	return 0;
}

static uint64_t secret_mask(PyObject *code, PyObject *names, int n)
{
	uint64_t m = 1ull << 63;
	for (int i = 0; i < n && i < 62; i++) {
		size_t nl;
		const char *name =
		    glass_str_utf8(((PyObject **)((char *)names + GLASS_TUPLE_ITEMS_OFF))[i], &nl);
		if (name && secret_param(name, nl))
			m |= 1ull << i;
	}
	if (glass_py.Code_SetExtra(code, mask_idx, (void *)(uintptr_t)m) != 0)
		glass_py.Err_Clear();
	return m;
}

void glass_capture_args(PyObject *code, PyObject *const *locals)
{
	if (T.guard || T.epoch != G.epoch)
		return;
	int saved_errno = errno;
	T.guard++; /* repr() may run the program's code: it is not recorded */
	/* no exception is pending when a function is called (or has returned a value): the
	 * repr() calls save nothing; they clear what they raise */
	struct out o = {buf, 0, C.max_len, 0};
	size_t ql;
	const char *q = glass_str_utf8(glass_code_qualname(code), &ql);
	if (q) {
		const char *dot = memrchr(q, '.', ql);
		if (dot) {
			ql -= (size_t)(dot + 1 - q);
			q = dot + 1;
		}
		put(&o, q, ql);
	}
	puts_(&o, "(");
	int flags = GLASS_AT(code, glass_cx.co_flags, int);
	int npos = GLASS_AT(code, glass_cx.co_argcount, int);
	int nkw = GLASS_AT(code, glass_cx.co_kwonlyargcount, int);
	int n = npos + nkw + !!(flags & GLASS_CO_VARARGS) + !!(flags & GLASS_CO_VARKEYWORDS);
	PyObject *names = GLASS_AT(code, glass_cx.co_localsplusnames, PyObject *);
	intptr_t nn = names ? GLASS_AT(names, GLASS_VAR_SIZE_OFF, intptr_t) : 0;
	uint64_t secret = glass_code_extra(code, mask_idx);
	if (!secret)
		secret = secret_mask(code, names, n < nn ? n : (int)nn);
	for (int i = 0; i < n && i < nn && !o.full; i++) {
		if (i)
			puts_(&o, ", ");
		if ((flags & GLASS_CO_VARARGS) && i == npos + nkw)
			puts_(&o, "*");
		else if ((flags & GLASS_CO_VARKEYWORDS) && i == n - 1)
			puts_(&o, "**");
		size_t nl;
		const char *name =
		    glass_str_utf8(((PyObject **)((char *)names + GLASS_TUPLE_ITEMS_OFF))[i], &nl);
		if (name)
			put(&o, name, nl);
		puts_(&o, "=");
		if (i < 62 ? (secret >> i) & 1 : name && secret_param(name, nl))
			puts_(&o, "***");
		else
			render(&o, locals[i], 0);
	}
	puts_(&o, ")");
	size_t len = finish(&o);
	if (T.epoch == G.epoch)
		glass_emit_text(&T.s, T.s.prev, GLASS_REC_ARGS, buf, len); /* at its CALL */
	T.guard--;
	errno = saved_errno;
}

void glass_capture_result(PyObject *r)
{
	if (T.guard || T.epoch != G.epoch)
		return;
	int saved_errno = errno;
	T.guard++;
	struct out o = {buf, 0, C.max_len, 0};
	render(&o, r, 0);
	size_t len = finish(&o);
	if (T.epoch == G.epoch)
		glass_emit_text(&T.s, T.s.prev, GLASS_REC_RESULT, buf, len); /* its last record */
	T.guard--;
	errno = saved_errno;
}
