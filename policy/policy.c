/* policy/policy.c — loads glimpse-policy.json and decides which code objects are traced. */
#include "policy/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

/*
 * This runs inside the traced host: no stdio output, no exit(), no global state, and errno is
 * left as the host had it. Everything a policy needs lives in struct glass_policy; every
 * problem becomes a message for the caller.
 */

enum policy_kind {
	POLICY_FILE,
	POLICY_DEFAULT,
};

struct policy_pattern {
	const char *text; /* points into the policy's JSON, which lives as long as the policy */
	int wild;
};

/* An array option flattened for glass_policy_option_list(). */
struct policy_list {
	char *key;
	size_t n;
	const char **items;
};

struct glass_policy {
	enum policy_kind kind;
	json_t *root;
	struct policy_pattern *include, *exclude, *project;
	size_t ninclude, nexclude, nproject;
	int auto_subpackages;
	int include_main;
	unsigned depth;
	char **roots, **skip; /* default policy: normalized absolute directories */
	size_t nroots, nskip;
	struct policy_list *lists;
	size_t nlists;
	char *summary;
};

/* ---- messages ---- */

/* Control bytes from a user's file must not reach the terminal the caller prints to. */
static void msg_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static void msg_vformat(char *dst, size_t dstlen, const char *path, unsigned line, unsigned col,
			const char *fmt, va_list ap)
{
	int n;

	if (!dst || !dstlen)
		return;
	if (line)
		n = snprintf(dst, dstlen, "%s:%u:%u: ", path, line, col);
	else
		n = snprintf(dst, dstlen, "%s: ", path);
	if (n >= 0 && (size_t)n < dstlen)
		vsnprintf(dst + n, dstlen - n, fmt, ap);
	msg_sanitize(dst);
}

static void msg_format(char *dst, size_t dstlen, const char *path, unsigned line, unsigned col,
		       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_vformat(dst, dstlen, path, line, col, fmt, ap);
	va_end(ap);
}

/* A growable string; an allocation failure sticks and is checked once at the end. */
struct policy_buf {
	char *s;
	size_t len, cap;
	int oom;
};

static void buf_add(struct policy_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = 1;
			return;
		}
		if (b->s && b->len + n < b->cap) {
			b->len += n;
			return;
		}
		size_t cap = (b->cap ? b->cap * 2 : 128) + n;
		char *s = realloc(b->s, cap);
		if (!s) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
}

/* ---- positions in the raw text (jansson keeps none for values) ---- */

static int text_is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t text_skip_ws(const char *t, size_t n, size_t i)
{
	while (i < n && text_is_ws(t[i]))
		i++;
	return i;
}

/* i is at an opening quote; returns the index just past the closing one. */
static size_t text_skip_string(const char *t, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return n;
}

/* i is at the start of a value; returns the index just past it. */
static size_t text_skip_value(const char *t, size_t n, size_t i)
{
	size_t depth = 0;

	while (i < n) {
		char c = t[i];

		if (c == '"') {
			i = text_skip_string(t, n, i);
			if (!depth)
				return i;
			continue;
		}
		if (c == '{' || c == '[') {
			depth++;
		} else if (c == '}' || c == ']') {
			if (!depth)
				return i;
			if (!--depth)
				return i + 1;
		} else if (!depth && (c == ',' || text_is_ws(c))) {
			return i;
		}
		i++;
	}
	return n;
}

/* Does the string token t[start, end) decode to key? Escapes are rare, so jansson decodes them. */
static int text_key_is(const char *t, size_t start, size_t end, const char *key)
{
	size_t klen = strlen(key);
	json_t *j;
	int same;

	if (end < start + 2)
		return 0;
	if (!memchr(t + start + 1, '\\', end - start - 2))
		return end - start - 2 == klen && memcmp(t + start + 1, key, klen) == 0;
	j = json_loadb(t + start, end - start, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	same = j && json_is_string(j) && json_string_length(j) == klen &&
	       memcmp(json_string_value(j), key, klen) == 0;
	json_decref(j);
	return same;
}

/* Offset of element item of the array starting at i, or fallback when there is none. */
static size_t text_locate_item(const char *t, size_t n, size_t i, size_t item, size_t fallback)
{
	if (i >= n || t[i] != '[')
		return fallback;
	i++;
	for (size_t k = 0;; k++) {
		i = text_skip_ws(t, n, i);
		if (i >= n || t[i] == ']')
			return fallback;
		if (k == item)
			return i;
		i = text_skip_value(t, n, i);
		i = text_skip_ws(t, n, i);
		if (i >= n || t[i] != ',')
			return fallback;
		i++;
	}
}

#define TEXT_KEY ((size_t)-1)

/*
 * Offset of the quoted top-level key (item == TEXT_KEY) or of element item of its array value.
 * The text already parsed as an object without duplicate keys, so the first hit is the one.
 * Returns 0 (line 1, column 1) if the key cannot be found.
 */
static size_t text_locate(const char *t, size_t n, const char *key, size_t item)
{
	size_t i = text_skip_ws(t, n, 0);

	if (i >= n || t[i] != '{')
		return 0;
	i++;
	for (;;) {
		size_t ks;
		int hit;

		i = text_skip_ws(t, n, i);
		if (i >= n || t[i] != '"')
			return 0;
		ks = i;
		i = text_skip_string(t, n, i);
		hit = text_key_is(t, ks, i, key);
		i = text_skip_ws(t, n, i);
		if (i >= n || t[i] != ':')
			return 0;
		i = text_skip_ws(t, n, i + 1);
		if (hit)
			return item == TEXT_KEY ? ks : text_locate_item(t, n, i, item, ks);
		i = text_skip_value(t, n, i);
		i = text_skip_ws(t, n, i);
		if (i >= n || t[i] != ',')
			return 0;
		i++;
	}
}

/* 1-based line and column; columns count characters, not bytes, as jansson's do. */
static void text_line_col(const char *t, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	for (size_t i = 0; i < off; i++) {
		if (t[i] == '\n') {
			l++;
			c = 1;
		} else if (((unsigned char)t[i] & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

/* ---- loading ---- */

struct policy_loader {
	const char *path;
	const char *text; /* after any UTF-8 byte order mark */
	size_t len;
	char *err;
	size_t errlen;
};

static void loader_error_at(struct policy_loader *ld, size_t off, const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;

	text_line_col(ld->text, off, &line, &col);
	va_start(ap, fmt);
	msg_vformat(ld->err, ld->errlen, ld->path, line, col, fmt, ap);
	va_end(ap);
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	default:
		return "null";
	}
}

/*
 * Reads the whole file, refusing non-regular files (a FIFO would block the host) and anything
 * over GLASS_POLICY_MAX_SIZE. Returns a malloc'd buffer or NULL with err filled.
 */
static char *policy_read(const char *path, size_t *lenp, char *err, size_t errlen)
{
	char ebuf[128];
	struct stat st;
	size_t len = 0, cap;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		msg_format(err, errlen, path, 0, 0, "cannot read: %s",
			   strerror_r(errno, ebuf, sizeof(ebuf)));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		msg_format(err, errlen, path, 0, 0, "cannot read: %s",
			   strerror_r(errno, ebuf, sizeof(ebuf)));
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		msg_format(err, errlen, path, 0, 0, "cannot read: %s",
			   S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
		close(fd);
		return NULL;
	}
	/* st_size is only a first guess: the file may be growing. Reading one byte past the
	 * limit is how a too large file shows. */
	cap = st.st_size < GLASS_POLICY_MAX_SIZE ? (size_t)st.st_size : GLASS_POLICY_MAX_SIZE;
	cap++;
	buf = malloc(cap);
	if (!buf) {
		msg_format(err, errlen, path, 0, 0, "cannot read: out of memory");
		close(fd);
		return NULL;
	}
	while (len <= GLASS_POLICY_MAX_SIZE) {
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap * 2;
			char *nbuf;

			if (ncap > GLASS_POLICY_MAX_SIZE + 1)
				ncap = GLASS_POLICY_MAX_SIZE + 1;
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				msg_format(err, errlen, path, 0, 0, "cannot read: out of memory");
				goto fail;
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			msg_format(err, errlen, path, 0, 0, "cannot read: %s",
				   strerror_r(errno, ebuf, sizeof(ebuf)));
			goto fail;
		}
		if (r == 0)
			break;
		len += r;
	}
	if (len > GLASS_POLICY_MAX_SIZE) {
		msg_format(err, errlen, path, 0, 0,
			   "larger than 1 MiB; a policy file is much smaller");
		goto fail;
	}
	close(fd);
	*lenp = len;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

enum policy_key_kind {
	KEY_PATTERNS,
	KEY_BOOL,
	KEY_COUNT, /* non-negative integer */
	KEY_DEPTH, /* non-negative integer that fits unsigned */
	KEY_OBJECT,
	KEY_SQL_TEXT,
	KEY_STRINGS,
	KEY_FRACTION,
	KEY_STRING,
};

/* clang-format off */
static const struct policy_key {
	const char *name;
	enum policy_key_kind kind;
} policy_keys[] = {
	{ "included_packages", KEY_PATTERNS },
	{ "excluded_packages", KEY_PATTERNS },
	{ "project_root_packages", KEY_PATTERNS },
	{ "auto_trace_subpackages", KEY_BOOL },
	{ "trace_depth", KEY_DEPTH },
	{ "include_main", KEY_BOOL },
	/* capture options, read by their users through glass_policy_option_*() */
	{ "capture", KEY_OBJECT },
	{ "sql_text", KEY_SQL_TEXT },
	{ "max_sql_length", KEY_COUNT },
	{ "max_string_length", KEY_COUNT },
	{ "exclude_routes", KEY_STRINGS },
	{ "sample", KEY_FRACTION },
	{ "redact", KEY_STRINGS },
	{ "http_headers", KEY_STRINGS },
	{ "service_name", KEY_STRING },
	{ "capture_tls", KEY_BOOL },
	{ "propagate_context", KEY_BOOL },
	{ "sample_hz", KEY_COUNT },
	{ "sample_clock", KEY_STRING },
};
/* clang-format on */

static const struct policy_key *policy_key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(policy_keys) / sizeof(policy_keys[0]); i++)
		if (strcmp(policy_keys[i].name, name) == 0)
			return &policy_keys[i];
	return NULL;
}

/*
 * Only what fnmatch(3) and Python's fnmatch agree on is accepted: `*`, `?`, `[...]`, `[!...]`.
 * glibc would read "[[:alpha:]]" as a class where Python sees a set, so that is refused, and an
 * unclosed '[' (literal for both) is almost surely a typo.
 */
static const char *pattern_check(const char *s)
{
	size_t n = strlen(s);

	/* "myapp." can never match a module: almost surely a typo for "myapp" or "myapp.*". */
	if (s[0] == '.' || s[n - 1] == '.' || strstr(s, ".."))
		return "has an empty name segment (a leading, trailing or double '.')";
	for (const char *c = s; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return "contains whitespace or a control character";
		if (*c != '[')
			continue;
		c++;
		if (*c == '!' || *c == '^')
			c++;
		if (*c == ']')
			c++;
		while (*c && *c != ']') {
			if (c[0] == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '='))
				return "unknown wildcard syntax (no [: :], [. .] or [= =] classes)";
			if ((unsigned char)*c <= ' ' || *c == 0x7f)
				return "contains whitespace or a control character";
			c++;
		}
		if (!*c)
			return "unknown wildcard syntax (unbalanced '[')";
	}
	return NULL;
}

static int pattern_is_wild(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Checks an array of strings; patterns also must be non-empty, well-formed wildcards. */
static int loader_check_strings(struct policy_loader *ld, const char *key, const json_t *v,
				int patterns)
{
	size_t i;
	json_t *item;

	if (!json_is_array(v)) {
		loader_error_at(ld, text_locate(ld->text, ld->len, key, TEXT_KEY),
				"%s must be an array of strings, not %s", key, json_kind(v));
		return -1;
	}
	/* Items are located only on error: locating each one would be quadratic in the file. */
	json_array_foreach(v, i, item)
	{
		const char *why;

		if (!json_is_string(item)) {
			loader_error_at(ld, text_locate(ld->text, ld->len, key, i),
					"%s must be an array of strings (item %zu is %s)", key,
					i + 1, json_kind(item));
			return -1;
		}
		if (!patterns)
			continue;
		if (json_string_length(item) == 0) {
			loader_error_at(ld, text_locate(ld->text, ld->len, key, i),
					"%s: empty pattern (item %zu)", key, i + 1);
			return -1;
		}
		why = pattern_check(json_string_value(item));
		if (why) {
			loader_error_at(ld, text_locate(ld->text, ld->len, key, i),
					"%s: pattern '%s' %s", key, json_string_value(item), why);
			return -1;
		}
	}
	return 0;
}

static int loader_check_key(struct policy_loader *ld, const struct policy_key *k, const json_t *v)
{
	const char *what = NULL;
	const char *s;

	/* null stands for "absent": JSON written by Python tools often has None for defaults. */
	if (json_is_null(v))
		return 0;
	switch (k->kind) {
	case KEY_PATTERNS:
		return loader_check_strings(ld, k->name, v, 1);
	case KEY_STRINGS:
		return loader_check_strings(ld, k->name, v, 0);
	case KEY_BOOL:
		if (!json_is_boolean(v))
			what = "must be true or false";
		break;
	case KEY_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			what = "must be a non-negative integer";
		break;
	case KEY_DEPTH:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > UINT_MAX)
			what = "must be a non-negative integer";
		break;
	case KEY_OBJECT:
		if (!json_is_object(v))
			what = "must be an object";
		break;
	case KEY_SQL_TEXT:
		s = json_string_value(v);
		if (!s || (strcmp(s, "normalized") != 0 && strcmp(s, "raw") != 0))
			what = "must be \"normalized\" or \"raw\"";
		break;
	case KEY_FRACTION:
		if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
			what = "must be a number from 0 to 1";
		break;
	case KEY_STRING:
		if (!json_is_string(v))
			what = "must be a string";
		break;
	}
	if (!what)
		return 0;
	loader_error_at(ld, text_locate(ld->text, ld->len, k->name, TEXT_KEY), "%s %s", k->name,
			what);
	return -1;
}

/* One warning for all unknown keys, at the first one: they come in file order. */
static void loader_warn_unknown(struct policy_loader *ld, json_t *root, char *warn, size_t warnlen)
{
	struct policy_buf b = {0};
	const char *first = NULL;
	const char *key;
	json_t *v;
	size_t n = 0;
	unsigned line, col;

	json_object_foreach(root, key, v)
	{
		if (policy_key_find(key))
			continue;
		if (!first)
			first = key;
		buf_add(&b, "%s'%s'", n ? ", " : "", key);
		n++;
	}
	if (!n || !warn || !warnlen)
		goto out;
	text_line_col(ld->text, text_locate(ld->text, ld->len, first, TEXT_KEY), &line, &col);
	msg_format(warn, warnlen, ld->path, line, col, "unknown key%s %s ignored", n > 1 ? "s" : "",
		   b.oom ? "(out of memory)" : b.s);
out:
	free(b.s);
}

static int policy_take_patterns(const json_t *root, const char *key, struct policy_pattern **out,
				size_t *nout)
{
	const json_t *arr = json_object_get(root, key);
	size_t i;
	json_t *item;

	*out = NULL;
	*nout = 0;
	if (!json_is_array(arr) || !json_array_size(arr))
		return 0;
	*out = calloc(json_array_size(arr), sizeof(**out));
	if (!*out)
		return -1;
	json_array_foreach(arr, i, item)
	{
		(*out)[i].text = json_string_value(item);
		(*out)[i].wild = pattern_is_wild((*out)[i].text);
	}
	*nout = json_array_size(arr);
	return 0;
}

static int policy_add_list(struct glass_policy *p, const char *prefix, const char *key,
			   const json_t *arr)
{
	struct policy_list *l;
	size_t i, n = 0;
	json_t *item;

	l = realloc(p->lists, (p->nlists + 1) * sizeof(*l));
	if (!l)
		return -1;
	p->lists = l;
	l = &p->lists[p->nlists];
	memset(l, 0, sizeof(*l));
	l->items = calloc(json_array_size(arr) + 1, sizeof(*l->items));
	if (prefix) {
		l->key = malloc(strlen(prefix) + strlen(key) + 2);
		if (l->key)
			sprintf(l->key, "%s.%s", prefix, key);
	} else {
		l->key = strdup(key);
	}
	if (!l->items || !l->key) {
		free(l->items);
		free(l->key);
		return -1;
	}
	json_array_foreach(arr, i, item)
	{
		if (json_is_string(item))
			l->items[n++] = json_string_value(item);
	}
	l->n = n;
	p->nlists++;
	return 0;
}

/* Flattens every array option, top level and one object deep, so lookups need no allocation. */
static int policy_take_lists(struct glass_policy *p)
{
	const char *key, *key2;
	json_t *v, *v2;

	json_object_foreach(p->root, key, v)
	{
		if (json_is_array(v) && policy_add_list(p, NULL, key, v) < 0)
			return -1;
		if (!json_is_object(v))
			continue;
		json_object_foreach(v, key2, v2)
		{
			if (json_is_array(v2) && policy_add_list(p, key, key2, v2) < 0)
				return -1;
		}
	}
	return 0;
}

static void buf_add_patterns(struct policy_buf *b, const char *label,
			     const struct policy_pattern *pt, size_t n)
{
	buf_add(b, " %s [", label);
	for (size_t i = 0; i < n; i++)
		buf_add(b, "%s%s", i ? ", " : "", pt[i].text);
	buf_add(b, "]");
}

static int policy_summarize_file(struct glass_policy *p, const char *path)
{
	struct policy_buf b = {0};

	buf_add(&b, "file %s:", path);
	if (!p->ninclude && !p->nproject) {
		buf_add(&b, " no included_packages or project_root_packages: %s",
			p->include_main ? "only __main__ is traced" : "nothing is traced");
	} else {
		if (p->ninclude)
			buf_add_patterns(&b, "include", p->include, p->ninclude);
		if (p->nproject) {
			buf_add_patterns(&b, "project_root", p->project, p->nproject);
			buf_add(&b, p->auto_subpackages ? " with subpackages" : " exact");
		}
	}
	if (p->nexclude)
		buf_add_patterns(&b, "exclude", p->exclude, p->nexclude);
	if (p->ninclude || p->nproject)
		buf_add(&b, "%s", p->include_main ? "" : " no __main__");
	if (p->depth)
		buf_add(&b, " depth %u", p->depth);
	else
		buf_add(&b, " depth unlimited");
	if (b.oom) {
		free(b.s);
		return -1;
	}
	msg_sanitize(b.s);
	p->summary = b.s;
	return 0;
}

static struct glass_policy *policy_load(const char *path, char *err, size_t errlen, char *warn,
					size_t warnlen)
{
	struct policy_loader ld = {.path = path, .err = err, .errlen = errlen};
	struct glass_policy *p = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *v;
	const char *key;
	char *buf;
	size_t len;
	const char *nul;

	if (err && errlen)
		err[0] = '\0';
	if (warn && warnlen)
		warn[0] = '\0';
	if (!path)
		path = ld.path = "(null)";
	buf = policy_read(path, &len, err, errlen);
	if (!buf)
		return NULL;
	ld.text = buf;
	ld.len = len;
	/* Editors on Windows write a byte order mark; it is not part of any line's columns. */
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		ld.text += 3;
		ld.len -= 3;
	}
	nul = memchr(ld.text, '\0', ld.len);
	if (nul) {
		loader_error_at(&ld, nul - ld.text, "NUL byte: not a text file");
		goto fail;
	}
	root = json_loadb(ld.text, ld.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* At end of input jansson says column 0 of the line after the last newline. */
		msg_format(err, errlen, path, jerr.line > 0 ? (unsigned)jerr.line : 1,
			   jerr.column > 0 ? (unsigned)jerr.column : 1, "invalid JSON: %s",
			   jerr.text);
		goto fail;
	}
	if (!json_is_object(root)) {
		loader_error_at(&ld, text_skip_ws(ld.text, ld.len, 0),
				"the policy must be a JSON object, not %s", json_kind(root));
		goto fail;
	}
	json_object_foreach(root, key, v)
	{
		const struct policy_key *k = policy_key_find(key);

		if (k && loader_check_key(&ld, k, v) < 0)
			goto fail;
	}
	loader_warn_unknown(&ld, root, warn, warnlen);

	p = calloc(1, sizeof(*p));
	if (!p)
		goto oom;
	p->kind = POLICY_FILE;
	p->root = root;
	root = NULL;
	v = json_object_get(p->root, "trace_depth");
	p->depth = json_is_integer(v) ? (unsigned)json_integer_value(v) : 0;
	v = json_object_get(p->root, "include_main");
	p->include_main = json_is_boolean(v) ? json_is_true(v) : 1;
	p->auto_subpackages = json_is_true(json_object_get(p->root, "auto_trace_subpackages"));
	if (policy_take_patterns(p->root, "included_packages", &p->include, &p->ninclude) < 0 ||
	    policy_take_patterns(p->root, "excluded_packages", &p->exclude, &p->nexclude) < 0 ||
	    policy_take_patterns(p->root, "project_root_packages", &p->project, &p->nproject) < 0 ||
	    policy_take_lists(p) < 0 || policy_summarize_file(p, path) < 0)
		goto oom;
	free(buf);
	return p;
oom:
	msg_format(err, errlen, path, 0, 0, "out of memory");
fail:
	if (warn && warnlen)
		warn[0] = '\0';
	glass_policy_free(p);
	json_decref(root);
	free(buf);
	return NULL;
}

struct glass_policy *glass_policy_load(const char *path, char *err, size_t errlen, char *warn,
				       size_t warnlen)
{
	int saved = errno;
	struct glass_policy *p = policy_load(path, err, errlen, warn, warnlen);

	errno = saved;
	return p;
}

/* ---- paths ---- */

/* Lexically cleans an absolute path ("//", ".", ".." and trailing '/'); malloc'd, or NULL. */
static char *path_normalize(const char *path)
{
	size_t len = strlen(path);
	char *out = malloc(len + 2);
	size_t o = 0;
	const char *s = path;

	if (!out)
		return NULL;
	while (*s) {
		const char *e;
		size_t n;

		while (*s == '/')
			s++;
		e = strchrnul(s, '/');
		n = e - s;
		if (n == 0 || (n == 1 && s[0] == '.')) {
			/* nothing */
		} else if (n == 2 && s[0] == '.' && s[1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			out[o++] = '/';
			memcpy(out + o, s, n);
			o += n;
		}
		s = e;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	return out;
}

/* Is path (normalized) dir itself or inside it? "/a/b" is not under "/a/bc". */
static int path_is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

/*
 * Adds dir and, when different, its real path: Python spells a file's path the way sys.path
 * spelt its directory, which may or may not go through a symlink.
 */
static int path_list_add(char ***list, size_t *n, const char *dir)
{
	char *forms[2] = {NULL, NULL};
	char *real;
	char **l;

	if (!dir || dir[0] != '/')
		return 0;
	forms[0] = path_normalize(dir);
	if (!forms[0])
		return -1;
	real = realpath(dir, NULL);
	if (real) {
		forms[1] = path_normalize(real);
		free(real);
		if (forms[1] && strcmp(forms[0], forms[1]) == 0) {
			free(forms[1]);
			forms[1] = NULL;
		}
	}
	l = realloc(*list, (*n + 2) * sizeof(*l));
	if (!l) {
		free(forms[0]);
		free(forms[1]);
		return -1;
	}
	*list = l;
	l[(*n)++] = forms[0];
	if (forms[1])
		l[(*n)++] = forms[1];
	return 0;
}

static void buf_add_paths(struct policy_buf *b, char *const *l, size_t n)
{
	buf_add(b, "[");
	for (size_t i = 0; i < n; i++)
		buf_add(b, "%s%s", i ? ", " : "", l[i]);
	buf_add(b, "]");
}

static struct glass_policy *policy_default(const char *const *roots, size_t nroots,
					   const char *const *exclude_prefixes, size_t nexclude)
{
	struct glass_policy *p = calloc(1, sizeof(*p));
	struct policy_buf b = {0};

	if (!p)
		return NULL;
	p->kind = POLICY_DEFAULT;
	p->include_main = 1;
	for (size_t i = 0; i < nroots; i++)
		if (roots && path_list_add(&p->roots, &p->nroots, roots[i]) < 0)
			goto fail;
	for (size_t i = 0; i < nexclude; i++)
		if (exclude_prefixes && path_list_add(&p->skip, &p->nskip, exclude_prefixes[i]) < 0)
			goto fail;
	buf_add(&b, "default: files under ");
	buf_add_paths(&b, p->roots, p->nroots);
	buf_add(&b, " except under ");
	buf_add_paths(&b, p->skip, p->nskip);
	buf_add(&b, ", */site-packages/* and */dist-packages/*; __main__ always; depth unlimited");
	if (b.oom)
		goto fail;
	msg_sanitize(b.s);
	p->summary = b.s;
	return p;
fail:
	free(b.s);
	glass_policy_free(p);
	return NULL;
}

struct glass_policy *glass_policy_default(const char *const *roots, size_t nroots,
					  const char *const *exclude_prefixes, size_t nexclude)
{
	int saved = errno;
	struct glass_policy *p = policy_default(roots, nroots, exclude_prefixes, nexclude);

	errno = saved;
	return p;
}

static int policy_find(const char *start_dir, char *out, size_t outlen)
{
	static const char name[] = "/" GLASS_POLICY_FILE_NAME;
	char *dir, *cand = NULL;
	size_t len;
	int found = 0;

	if (!out || !outlen)
		return 0;
	if (!start_dir || !*start_dir) {
		out[0] = '\0';
		return 0;
	}
	/* As Glimpse does, walk up the real path; a missing directory is walked up as spelt. */
	dir = realpath(start_dir, NULL);
	if (!dir && start_dir[0] == '/') {
		dir = path_normalize(start_dir);
	} else if (!dir) {
		char *cwd = getcwd(NULL, 0);
		char *joined = cwd ? malloc(strlen(cwd) + strlen(start_dir) + 2) : NULL;

		if (joined) {
			sprintf(joined, "%s/%s", cwd, start_dir);
			dir = path_normalize(joined);
		}
		free(joined);
		free(cwd);
	}
	/* Only now: out may be the very buffer start_dir points into. */
	out[0] = '\0';
	if (!dir)
		return 0;
	len = strlen(dir);
	cand = malloc(len + sizeof(name));
	while (cand) {
		struct stat st;

		/* At "/" the directory part is empty, not "/", so no "//" appears. */
		memcpy(cand, dir, len);
		strcpy(cand + (len == 1 ? 0 : len), name);
		/* Any entry but a directory is the user's policy, even a broken symlink: loading
		 * it then says what is wrong rather than silently using another one. */
		if (lstat(cand, &st) == 0 && !(stat(cand, &st) == 0 && S_ISDIR(st.st_mode))) {
			found = strlen(cand) < outlen;
			if (found)
				strcpy(out, cand);
			break;
		}
		if (len <= 1)
			break;
		while (len > 1 && dir[len - 1] != '/')
			len--;
		if (len > 1)
			len--;
	}
	free(cand);
	free(dir);
	return found;
}

int glass_policy_find(const char *start_dir, char *out, size_t outlen)
{
	int saved = errno;
	int found = policy_find(start_dir, out, outlen);

	errno = saved;
	return found;
}

/* ---- matching ---- */

/* multiprocessing's spawn start method runs the main script as __mp_main__. */
static int module_is_main(const char *module)
{
	return strcmp(module, "__main__") == 0 || strcmp(module, "__mp_main__") == 0;
}

/*
 * Does pattern pt cover module? With subpackages, a wildcard also covers everything below what
 * it matches, so each dotted prefix of the (writable copy of the) module name is tried.
 */
static int pattern_match(const struct policy_pattern *pt, char *module, int subpackages)
{
	if (!pt->wild) {
		size_t n = strlen(pt->text);

		return strncmp(module, pt->text, n) == 0 &&
		       (module[n] == '\0' || (subpackages && module[n] == '.'));
	}
	if (fnmatch(pt->text, module, FNM_NOESCAPE) == 0)
		return 1;
	if (!subpackages)
		return 0;
	for (char *dot = strchr(module, '.'); dot; dot = strchr(dot + 1, '.')) {
		int hit;

		*dot = '\0';
		hit = fnmatch(pt->text, module, FNM_NOESCAPE) == 0;
		*dot = '.';
		if (hit)
			return 1;
	}
	return 0;
}

static int patterns_match(const struct policy_pattern *pt, size_t n, char *module, int subpackages)
{
	for (size_t i = 0; i < n; i++)
		if (pattern_match(&pt[i], module, subpackages))
			return 1;
	return 0;
}

static int policy_match_file(const struct glass_policy *p, const char *module)
{
	char *m;
	int hit;

	if (!module || !*module)
		return 0;
	m = strdup(module);
	if (!m)
		return 0;
	if (patterns_match(p->exclude, p->nexclude, m, 1))
		hit = 0;
	else if (module_is_main(m))
		hit = p->include_main;
	else
		hit = patterns_match(p->include, p->ninclude, m, 1) ||
		      patterns_match(p->project, p->nproject, m, p->auto_subpackages);
	free(m);
	return hit;
}

static int policy_match_default(const struct glass_policy *p, const char *module,
				const char *filename)
{
	char *path;
	int hit = 0;

	if (module && module_is_main(module))
		return 1;
	/* Also rules out "<string>", "<frozen ...>" and "": only real absolute files qualify. */
	if (!filename || filename[0] != '/')
		return 0;
	path = path_normalize(filename);
	if (!path)
		return 0;
	if (strstr(path, "/site-packages/") || strstr(path, "/dist-packages/"))
		goto out;
	for (size_t i = 0; i < p->nskip; i++)
		if (path_is_under(path, p->skip[i]))
			goto out;
	for (size_t i = 0; i < p->nroots && !hit; i++)
		hit = path_is_under(path, p->roots[i]);
out:
	free(path);
	return hit;
}

int glass_policy_match(const struct glass_policy *p, const char *module, const char *filename)
{
	int saved = errno;
	int hit = 0;

	if (p && p->kind == POLICY_DEFAULT)
		hit = policy_match_default(p, module, filename);
	else if (p)
		hit = policy_match_file(p, module);
	errno = saved;
	return hit;
}

unsigned glass_policy_trace_depth(const struct glass_policy *p)
{
	return p ? p->depth : 0;
}

const char *glass_policy_summary(const struct glass_policy *p)
{
	return p && p->summary ? p->summary : "";
}

/* ---- options ---- */

/* The value at key, a top-level key first, else a dotted path through nested objects. */
static const json_t *policy_option(const struct glass_policy *p, const char *key)
{
	const json_t *cur;
	char *copy, *seg, *dot;

	if (!p || !p->root || !key)
		return NULL;
	cur = json_object_get(p->root, key);
	if (cur || !strchr(key, '.'))
		return cur;
	copy = strdup(key);
	if (!copy)
		return NULL;
	cur = p->root;
	for (seg = copy; cur; seg = dot + 1) {
		dot = strchr(seg, '.');
		if (dot)
			*dot = '\0';
		cur = json_is_object(cur) ? json_object_get(cur, seg) : NULL;
		if (!dot)
			break;
	}
	free(copy);
	return cur;
}

const char *glass_policy_option_str(const struct glass_policy *p, const char *key, const char *dflt)
{
	const json_t *v = policy_option(p, key);

	return json_is_string(v) ? json_string_value(v) : dflt;
}

long long glass_policy_option_int(const struct glass_policy *p, const char *key, long long dflt)
{
	const json_t *v = policy_option(p, key);

	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_boolean(v))
		return json_is_true(v);
	return dflt;
}

double glass_policy_option_double(const struct glass_policy *p, const char *key, double dflt)
{
	const json_t *v = policy_option(p, key);

	return json_is_number(v) ? json_number_value(v) : dflt;
}

size_t glass_policy_option_list(const struct glass_policy *p, const char *key,
				const char *const **items)
{
	if (items)
		*items = NULL;
	if (!p || !key)
		return 0;
	for (size_t i = 0; i < p->nlists; i++) {
		if (strcmp(p->lists[i].key, key) != 0)
			continue;
		if (items && p->lists[i].n)
			*items = p->lists[i].items;
		return p->lists[i].n;
	}
	return 0;
}

void glass_policy_free(struct glass_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nlists; i++) {
		free(p->lists[i].key);
		free(p->lists[i].items);
	}
	free(p->lists);
	for (size_t i = 0; i < p->nroots; i++)
		free(p->roots[i]);
	for (size_t i = 0; i < p->nskip; i++)
		free(p->skip[i]);
	free(p->roots);
	free(p->skip);
	free(p->include);
	free(p->exclude);
	free(p->project);
	free(p->summary);
	json_decref(p->root);
	free(p);
}
