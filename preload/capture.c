/* preload/capture.c — what the capture hooks share: configuration from the policy, opening and
 * closing operations on the thread's stream, finding the real functions, SQL text, secrets. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "capture.h"
#include "glass.h"
#include "policy/policy.h"
#include "sql-normalize.h"

struct glass_cap_config glass_cap = {
    .on = {1, 1, 1, 1, 1, 1},
    .max_statement = 2048,
    .net_min_ns = 1000000,
    .sample = 1.0,
    .tls = 1,
};

static const char *const family_key[GLASS_CAP_NFAMILIES] = {
    "capture.sql", "capture.mongo", "capture.redis", "capture.http_server",
    "capture.http_client", "capture.net",
};

void glass_cap_configure(const struct glass_policy *p)
{
	struct glass_cap_config c = {
	    .on = {1, 1, 1, 1, 1, 1}, .max_statement = 2048, .net_min_ns = 1000000, .sample = 1.0,
	    .tls = 1};
	if (p) {
		for (int f = 0; f < GLASS_CAP_NFAMILIES; f++)
			c.on[f] = glass_policy_option_int(p, family_key[f], 1) != 0;
		const char *mode = glass_policy_option_str(p, "sql_text", "normalized");
		if (!strcmp(mode, "raw"))
			c.sql_raw = 1;
		else if (strcmp(mode, "normalized") && strcmp(mode, "normalised"))
			glass_log(1, "policy: capture.sql_text is \"%s\"; expected \"normalized\" or "
				     "\"raw\"; statements are normalized",
				  mode);
		long long ms = glass_policy_option_int(p, "max_sql_length", 2048);
		c.max_statement = ms < 16 ? 16 : ms > GLASS_MAX_ATTR_STR ? GLASS_MAX_ATTR_STR : (unsigned)ms;
		double us = glass_policy_option_double(p, "capture.net_min_us", 1000);
		c.net_min_ns = us <= 0 ? 0 : (uint64_t)(us * 1000);
		double sm = glass_policy_option_double(p, "sample", 1.0);
		c.sample = sm < 0 ? 0 : sm > 1 ? 1 : sm;
		const char *const *items;
		size_t n = glass_policy_option_list(p, "exclude_routes", &items);
		for (size_t i = 0; i < n && c.nroutes < GLASS_CAP_MAX_ROUTES; i++)
			snprintf(c.routes[c.nroutes++], sizeof(c.routes[0]), "%s", items[i]);
		n = glass_policy_option_list(p, "redact", &items);
		for (size_t i = 0; i < n && c.nredact < GLASS_CAP_MAX_REDACT; i++)
			if (items[i][0])
				snprintf(c.redact[c.nredact++], sizeof(c.redact[0]), "%s", items[i]);
		n = glass_policy_option_list(p, "http_headers", &items);
		for (size_t i = 0; i < n && c.nheaders < GLASS_CAP_MAX_HEADERS; i++)
			if (items[i][0])
				snprintf(c.headers[c.nheaders++], sizeof(c.headers[0]), "%s", items[i]);
	}
	c.tls = p ? glass_policy_option_int(p, "capture_tls", 1) != 0 : 1;
	c.propagate = p ? glass_policy_option_int(p, "propagate_context", 0) != 0 : 0;
	c.sockets = c.on[GLASS_CAP_HTTP_SERVER] || c.on[GLASS_CAP_HTTP_CLIENT] ||
		    c.on[GLASS_CAP_MONGO] || c.on[GLASS_CAP_REDIS] || c.on[GLASS_CAP_NET];
	glass_cap = c;
}

int glass_cap_on(enum glass_cap_family f)
{
	return G.state == GLASS_ACTIVE && glass_cap.on[f];
}

uint64_t glass_cap_now(void)
{
	return glass_ticks();
}

/* The thread's stream, ready for a record; NULL when this thread does not record now. */
static struct glass_stream_writer *stream(void)
{
	if (G.state != GLASS_ACTIVE || T.guard)
		return NULL;
	if (T.epoch != G.epoch && (T.tried == G.epoch || glass_thread_start() != 0))
		return NULL;
	return &T.s;
}

uint64_t glass_cap_begin(unsigned kind, const char *name, size_t name_len,
			 const struct glass_op_attr *attrs, size_t nattrs, uint64_t start)
{
	int saved = errno;
	uint64_t op = 0;
	struct glass_stream_writer *s = stream();
	if (s) {
		op = ++T.next_op;
		glass_emit_op_begin(s, start ? start : glass_ticks(), op, kind, name, name_len,
				    attrs, nattrs);
	}
	errno = saved;
	return op;
}

void glass_cap_end(uint64_t op, unsigned status, const char *name, size_t name_len,
		   const struct glass_op_attr *attrs, size_t nattrs)
{
	if (!op)
		return;
	int saved = errno;
	struct glass_stream_writer *s = stream();
	if (s)
		glass_emit_op_end(s, glass_ticks(), op, status, name, name_len, attrs, nattrs);
	errno = saved;
}

int glass_cap_pause(void)
{
	if (G.state != GLASS_ACTIVE || T.epoch != G.epoch || T.unsampled_epoch)
		return 0;
	T.unsampled_epoch = T.epoch;
	T.epoch = 0; /* the evaluator and the hooks see a thread that does not record */
	return 1;
}

void glass_cap_resume(void)
{
	if (T.unsampled_epoch && T.unsampled_epoch == G.epoch)
		T.epoch = T.unsampled_epoch;
	T.unsampled_epoch = 0;
}

/* propagate_context's counters, as a NOTE (read by `glass-report info`). */
static void write_prop_note(void)
{
	uint64_t sent, skipped, broken;
	glass_net_prop_stats(&sent, &skipped, &broken);
	if (!sent && !skipped && !broken)
		return;
	char text[200];
	snprintf(text, sizeof(text),
		 "propagate_context: %llu requests carried a traceparent; %llu left alone (head "
		 "written in pieces or too big to rewrite); %llu with the header cut by an error",
		 (unsigned long long)sent, (unsigned long long)skipped, (unsigned long long)broken);
	char buf[256];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	msgpack_pack_uint8(&pk, GLASS_REC_NOTE);
	msgpack_pack_uint64(&pk, GLASS_NOTE_INFO);
	glass_pack_cstr(&pk, text);
	if (!mb.overflow)
		glass_proc_writer_append(&G.proc, mb.data, mb.len);
}

void glass_cap_write_stats(void)
{
	write_prop_note();
	struct glass_net_stats n;
	glass_net_stats(&n);
	if (!n.connections && !n.gave_up && !n.busy && !n.no_slot && !n.foreign_thread &&
	    !n.unsampled)
		return;
	char buf[128];
	struct glass_membuf mb = {buf, 0, sizeof(buf), 0};
	msgpack_packer pk;
	msgpack_packer_init(&pk, &mb, glass_membuf_write);
	msgpack_pack_uint8(&pk, GLASS_REC_CAPTURE);
	msgpack_pack_array(&pk, 6); /* a meta record added after 1.0: wrapped */
	msgpack_pack_uint64(&pk, n.connections);
	msgpack_pack_uint64(&pk, n.gave_up);
	msgpack_pack_uint64(&pk, n.busy);
	msgpack_pack_uint64(&pk, n.no_slot);
	msgpack_pack_uint64(&pk, n.foreign_thread);
	msgpack_pack_uint64(&pk, n.unsampled);
	if (!mb.overflow)
		glass_proc_writer_append(&G.proc, mb.data, mb.len);
}

int glass_cap_enter(void)
{
	return T.cap_depth++;
}

void glass_cap_leave(void)
{
	T.cap_depth--;
}

void *glass_cap_real(const char *name, const char *const *libs)
{
	int saved = errno;
	void *f = dlsym(RTLD_NEXT, name);
	for (size_t i = 0; !f && libs && libs[i]; i++) {
		void *h = dlopen(libs[i], RTLD_NOLOAD | RTLD_LAZY);
		if (h) {
			f = dlsym(h, name);
			dlclose(h); /* NOLOAD took a reference: give it back (the host holds its own) */
		}
	}
	dlerror(); /* never leave an error for the host's own dlerror() */
	errno = saved;
	return f;
}

static size_t sql_text_now(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
			   struct glass_sql_info *info)
{
	if (info)
		glass_sql_describe(sql, len, flags, info);
	if (!cap)
		return 0;
	size_t lim = glass_cap.max_statement + 1 < cap ? glass_cap.max_statement + 1 : cap;
	if (!glass_cap.sql_raw)
		return glass_sql_normalize(sql, len, out, lim, flags, NULL);
	if (len + 1 <= lim) {
		memcpy(out, sql, len);
		out[len] = 0;
		return len;
	}
	size_t cut = lim - 1 - 3;
	while (cut > 0 && ((unsigned char)sql[cut] & 0xC0) == 0x80)
		cut--;
	memcpy(out, sql, cut);
	memcpy(out + cut, "...", 4);
	return cut + 3;
}

/* Lexing costs about 50 instructions a byte and programs run the same statements again and
 * again (an ORM prepares its SELECT on every request): texts already made come from
 * glass_sql_cached's table. */
static size_t sql_text_make(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
			    struct glass_sql_info *info, void *arg)
{
	(void)arg;
	return sql_text_now(sql, len, flags, out, cap, info);
}

size_t glass_cap_sql_text(const char *sql, size_t len, unsigned flags, char *out, size_t cap,
			  struct glass_sql_info *info)
{
	size_t lim = glass_cap.max_statement + 1 < cap ? glass_cap.max_statement + 1 : cap;
	uint32_t mode = (uint32_t)lim | (glass_cap.sql_raw ? 1u << 31 : 0);
	return glass_sql_cached(sql, len, flags, mode, out, cap, info, sql_text_make, NULL);
}

size_t glass_cap_sql_name(const struct glass_sql_info *info, char *out, size_t cap)
{
	int n;
	if (info->operation[0] && info->table[0])
		n = snprintf(out, cap, "%s %s", info->operation, info->table);
	else
		n = snprintf(out, cap, "%s", info->operation[0] ? info->operation : "SQL");
	return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

static int contains_ci(const char *hay, size_t hl, const char *needle)
{
	size_t nl = strlen(needle);
	if (!nl || nl > hl)
		return 0;
	for (size_t i = 0; i + nl <= hl; i++)
		if (strncasecmp(hay + i, needle, nl) == 0)
			return 1;
	return 0;
}

int glass_cap_is_secret(const char *name, size_t len)
{
	static const char *const builtin[] = {"authorization", "cookie", "password", "passwd",
					      "pwd",	       "token",	 "secret",   "key",
					      "session",       "credential", "signature", "auth"};
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (contains_ci(name, len, builtin[i]))
			return 1;
	for (size_t i = 0; i < glass_cap.nredact; i++)
		if (contains_ci(name, len, glass_cap.redact[i]))
			return 1;
	return 0;
}
