/* tools/cmd-otlp.c — `glass-report otlp`: spans as OpenTelemetry OTLP/JSON, to a file or a
 * collector. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "report.h"
#include "spans.h"
#include "text.h"

/*
 * The output follows the OTLP/JSON encoding of ExportTraceServiceRequest (opentelemetry-proto's
 * JSON mapping): lowerCamelCase field names, trace and span ids as hex (not base64), enums as
 * integers, 64-bit integers as decimal strings. Requests hold up to --batch spans; each process
 * is one resourceSpans entry, repeated in every request that holds some of its spans. Spans are
 * written as they complete: memory is one request, never the whole session.
 */

#define OTLP_KIND_INTERNAL 1
#define OTLP_KIND_SERVER   2
#define OTLP_KIND_CLIENT   3
#define OTLP_STATUS_ERROR  2

#define DEFAULT_BATCH	  512
#define DEFAULT_RETRIES	  3
#define DEFAULT_TIMEOUT_S 30
#define FILE_FLUSH_BYTES  (1u << 20) /* file output: write a growing request out past this */
#define BACKOFF_MS	  250	     /* first retry delay, doubled each time */
#define MAX_RETRY_AFTER_S 30	     /* longest Retry-After we honour */
#define BODY_KEEP	  4096	     /* response bytes kept for messages */

struct otlp {
	struct glass_session *s;
	/* one of: a file (stdout by default) or an OTLP/HTTP endpoint */
	FILE *out;
	const char *out_name;
	char *url;
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	struct glass_buf body; /* the collector's answer */
	unsigned retries;
	long timeout_s;
	size_t batch; /* spans per request; 0: one request for the whole session (files only) */

	/* the request being built */
	struct glass_buf req;
	int open;		   /* `{"resourceSpans":[` written */
	int nresources;		   /* resourceSpans entries in the open request */
	int in_resource;	   /* the current process's entry is open */
	int first_span;		   /* the next span is the first of the entry */
	size_t nspans;		   /* spans in the open request */
	struct glass_buf resource; /* the current process's entry up to its spans array */

	uint64_t spans, requests, rejected;
	int rc;		/* exit status of the first failure */
	char err[1200]; /* its message, printed after the progress bar is gone */
	char label[1100];
};

/* ---- JSON pieces ---------------------------------------------------------------------------- */

static void put_str(struct glass_buf *b, const char *s, size_t len)
{
	glass_json_str(b, s ? s : "", s ? len : 0);
}

static void put_cstr(struct glass_buf *b, const char *s)
{
	put_str(b, s, s ? strlen(s) : 0);
}

/* Attributes are written as a list; *n counts the ones written so far (for commas). */
static void attr_key(struct glass_buf *b, int *n, const char *key, size_t klen)
{
	if ((*n)++)
		glass_buf_put(b, ",", 1);
	glass_buf_puts(b, "{\"key\":");
	put_str(b, key, klen);
	glass_buf_puts(b, ",\"value\":");
}

static void attr_str(struct glass_buf *b, int *n, const char *key, const char *s, size_t len)
{
	attr_key(b, n, key, strlen(key));
	glass_buf_puts(b, "{\"stringValue\":");
	put_str(b, s, len);
	glass_buf_puts(b, "}}");
}

static void attr_cstr(struct glass_buf *b, int *n, const char *key, const char *s)
{
	attr_str(b, n, key, s, strlen(s));
}

static void attr_int(struct glass_buf *b, int *n, const char *key, int64_t v)
{
	attr_key(b, n, key, strlen(key));
	glass_buf_printf(b, "{\"intValue\":\"%lld\"}}", (long long)v);
}

/* One attribute of a captured operation, as recorded. */
static void attr_span(struct glass_buf *b, int *n, const struct glass_attr *a)
{
	attr_key(b, n, a->key.p, a->key.len);
	switch (a->type) {
	case GLASS_ATTR_STR:
		glass_buf_puts(b, "{\"stringValue\":");
		put_str(b, a->s.p, a->s.len);
		glass_buf_puts(b, "}}");
		break;
	case GLASS_ATTR_INT:
		glass_buf_printf(b, "{\"intValue\":\"%lld\"}}", (long long)a->i);
		break;
	case GLASS_ATTR_BOOL:
		glass_buf_printf(b, "{\"boolValue\":%s}}", a->i ? "true" : "false");
		break;
	}
}

static int attr_is(const struct glass_attr *a, const char *key)
{
	size_t kl = strlen(key);
	return a->key.len == kl && memcmp(a->key.p, key, kl) == 0;
}

/* A string attribute's value (NULL p when absent or not a string). */
static struct glass_str attr_sval(const struct glass_span *sp, const char *key)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	struct glass_str none = {NULL, 0};
	return a && a->type == GLASS_ATTR_STR ? a->s : none;
}

/* ---- resource: one per process --------------------------------------------------------------- */

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s && s[1] ? s + 1 : p;
}

/*
 * service.name of a process: $GLASS_SERVICE_NAME, else $OTEL_SERVICE_NAME, else the program it
 * ran: the script (basename without .py) or the -m module of `python [options] script|-m mod`,
 * else the executable's basename.
 */
static void service_name(const struct glass_proc_info *in, char *out, size_t cap)
{
	const char *env = getenv("GLASS_SERVICE_NAME");
	if (!env || !*env)
		env = getenv("OTEL_SERVICE_NAME");
	if (env && *env) {
		snprintf(out, cap, "%s", env);
		return;
	}
	if (!in->argc || !in->argv[0] || !*in->argv[0]) {
		snprintf(out, cap, "unknown_service:python");
		return;
	}
	const char *prog = base_name(in->argv[0]);
	if (strncmp(prog, "python", 6) != 0) {
		snprintf(out, cap, "%s", prog);
		return;
	}
	for (uint32_t i = 1; i < in->argc; i++) {
		const char *a = in->argv[i];
		if (!a)
			break;
		if (!strcmp(a, "--") && i + 1 < in->argc && in->argv[i + 1]) {
			a = in->argv[i + 1];
		} else if (!strncmp(a, "-m", 2)) {
			const char *mod = a[2] ? a + 2 : i + 1 < in->argc ? in->argv[i + 1] : NULL;
			snprintf(out, cap, "%s", mod && *mod ? mod : prog);
			return;
		} else if (!strncmp(a, "-c", 2)) {
			break;
		} else if (a[0] == '-') {
			/* options that take a separate value */
			if ((!strcmp(a, "-W") || !strcmp(a, "-X") ||
			     !strcmp(a, "--check-hash-based-pycs")) &&
			    i + 1 < in->argc)
				i++;
			continue;
		}
		const char *b = base_name(a);
		size_t n = strlen(b);
		if (n > 3 && !strcmp(b + n - 3, ".py"))
			n -= 3;
		snprintf(out, cap, "%.*s", (int)n, b);
		return;
	}
	snprintf(out, cap, "%s", prog);
}

static void build_resource(struct otlp *O, struct glass_proc *p)
{
	const struct glass_proc_info *in = glass_proc_info(p);
	struct glass_buf *b = &O->resource;
	char name[512];
	int n = 0;
	b->len = 0;
	service_name(in, name, sizeof(name));
	glass_buf_puts(b, "{\"resource\":{\"attributes\":[");
	attr_cstr(b, &n, "service.name", name);
	attr_int(b, &n, "process.pid", in->pid);
	if (in->ppid)
		attr_int(b, &n, "process.parent_pid", in->ppid);
	if (in->executable && *in->executable)
		attr_cstr(b, &n, "process.executable.path", in->executable);
	if (in->argc) {
		attr_key(b, &n, "process.command_args", 20);
		glass_buf_puts(b, "{\"arrayValue\":{\"values\":[");
		for (uint32_t i = 0; i < in->argc; i++) {
			glass_buf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
			put_cstr(b, in->argv[i]);
			glass_buf_put(b, "}", 1);
		}
		glass_buf_puts(b, "]}}}");
	}
	attr_cstr(b, &n, "process.runtime.name", "cpython");
	if (in->python && *in->python)
		attr_cstr(b, &n, "process.runtime.version", in->python);
	attr_cstr(b, &n, "telemetry.sdk.name", "glass");
	/* The data describe Python code (code.* attributes, a CPython runtime); backends use this
	 * attribute to tell the service's language, and "c" is not one of its values. */
	attr_cstr(b, &n, "telemetry.sdk.language", "python");
	attr_cstr(b, &n, "telemetry.sdk.version", GLASS_VERSION);
	char sid[17];
	snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)glass_session_id(O->s));
	attr_cstr(b, &n, "glass.session.id", sid);
	glass_buf_puts(b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"glass\",\"version\":");
	put_cstr(b, GLASS_VERSION);
	glass_buf_puts(b, "},\"spans\":[");
}

/* ---- delivery -------------------------------------------------------------------------------- */

static void fail(struct otlp *O, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct otlp *O, int rc, const char *fmt, ...)
{
	if (O->rc)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(O->err, sizeof(O->err), fmt, ap);
	va_end(ap);
	O->rc = rc;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct glass_buf *b = ctx;
	size_t len = size * n;
	if (b->len < BODY_KEEP)
		glass_buf_put(b, p, len < BODY_KEEP - b->len ? len : BODY_KEEP - b->len);
	return len;
}

/* The start of the collector's answer, on one line, for messages. */
static void body_snippet(struct otlp *O, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = 0;
	if (!O->body.len || cap < 8)
		return;
	n = (size_t)snprintf(out, cap, ": ");
	for (size_t i = 0; i < O->body.len && n + 4 < cap && i < 200; i++) {
		char c = O->body.p[i];
		out[n++] = c == '\n' || c == '\r' || c == '\t' ? ' '
			   : (unsigned char)c < 0x20	       ? '?'
							       : c;
	}
	while (n > 2 && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

/* A 2xx answer may carry partialSuccess: spans the collector dropped. */
static void check_partial(struct otlp *O)
{
	if (!O->body.len)
		return;
	json_error_t je;
	json_t *root = json_loadb(O->body.p, O->body.len, 0, &je);
	if (!root)
		return;
	json_t *ps = json_object_get(root, "partialSuccess");
	json_t *rs = ps ? json_object_get(ps, "rejectedSpans") : NULL;
	long long n = 0;
	if (json_is_integer(rs))
		n = json_integer_value(rs);
	else if (json_is_string(rs))
		n = strtoll(json_string_value(rs), NULL, 10);
	if (n > 0)
		O->rejected += (uint64_t)n;
	json_decref(root);
}

/* Errors worth another try: the collector may be starting, restarting or overloaded. */
static int transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return 1;
	default:
		return 0;
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* POSTs the request; retries 429, 5xx and connection failures with a doubling delay. */
static int post(struct otlp *O)
{
	CURL *c = O->curl;
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, O->req.p);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)O->req.len);
	for (unsigned attempt = 0;; attempt++) {
		O->body.len = 0;
		O->curl_err[0] = 0;
		CURLcode rc = curl_easy_perform(c);
		long code = 0;
		int retry;
		char why[600];
		if (rc != CURLE_OK) {
			long oserr = 0;
			curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
			retry = transient(rc);
			if (rc == CURLE_COULDNT_CONNECT && oserr)
				snprintf(why, sizeof(why), "cannot reach %s: %s", O->url,
					 strerror((int)oserr));
			else
				snprintf(why, sizeof(why), "cannot reach %s: %s", O->url,
					 O->curl_err[0] ? O->curl_err : curl_easy_strerror(rc));
		} else {
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
			if (code >= 200 && code < 300) {
				check_partial(O);
				O->requests++;
				return 0;
			}
			char snip[300];
			body_snippet(O, snip, sizeof(snip));
			retry = code == 429 || code >= 500;
			snprintf(why, sizeof(why), "%s answered HTTP %ld%s", O->url, code, snip);
		}
		if (!retry || attempt >= O->retries) {
			if (attempt)
				fail(O, GLASS_EXIT_OUTPUT, "%s (%u attempts)", why, attempt + 1);
			else
				fail(O, GLASS_EXIT_OUTPUT, "%s", why);
			return -1;
		}
		long delay = (long)BACKOFF_MS << attempt;
		curl_off_t after = -1;
		if (rc == CURLE_OK &&
		    curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0)
			delay =
			    (after < MAX_RETRY_AFTER_S ? (long)after : MAX_RETRY_AFTER_S) * 1000L;
		sleep_ms(delay);
	}
}

static void write_out(struct otlp *O)
{
	if (O->req.oom) {
		fail(O, GLASS_EXIT_OUTPUT, "out of memory");
	} else if (O->req.len && fwrite(O->req.p, 1, O->req.len, O->out) != O->req.len) {
		fail(O, GLASS_EXIT_OUTPUT, "cannot write %s: %s", O->out_name, strerror(errno));
	}
	O->req.len = 0;
}

static void close_resource(struct otlp *O)
{
	if (O->in_resource)
		glass_buf_puts(&O->req, "]}]}");
	O->in_resource = 0;
}

/* Ends the open request and delivers it. */
static void finish_request(struct otlp *O)
{
	if (!O->open)
		return;
	close_resource(O);
	glass_buf_puts(&O->req, "]}");
	if (O->url) {
		if (O->req.oom)
			fail(O, GLASS_EXIT_OUTPUT, "out of memory");
		else if (!O->rc)
			post(O);
	} else {
		glass_buf_put(&O->req, "\n", 1);
		write_out(O);
		O->requests++;
	}
	O->req.len = 0;
	O->open = 0;
	O->nresources = 0;
	O->nspans = 0;
}

/* ---- spans ----------------------------------------------------------------------------------- */

static void put_id(struct glass_buf *b, const char *key, uint64_t id)
{
	glass_buf_printf(b, ",\"%s\":\"%016llx\"", key, (unsigned long long)id);
}

static int otlp_kind(enum glass_span_kind k)
{
	switch (k) {
	case GLASS_KIND_HTTP_SERVER:
		return OTLP_KIND_SERVER;
	case GLASS_KIND_HTTP_CLIENT:
	case GLASS_KIND_DB:
	case GLASS_KIND_NET:
		return OTLP_KIND_CLIENT;
	case GLASS_KIND_PYTHON:
	default:
		return OTLP_KIND_INTERNAL;
	}
}

/* code.function / code.namespace: the qualname's last part, and the module plus the rest. */
static void code_attrs(struct glass_buf *b, int *n, const struct glass_code_def *d)
{
	const char *q = d->qualname, *dot = strrchr(q, '.');
	attr_cstr(b, n, "code.function", dot ? dot + 1 : q);
	struct glass_buf ns = {0};
	glass_buf_puts(&ns, d->module);
	if (dot) {
		if (ns.len)
			glass_buf_put(&ns, ".", 1);
		glass_buf_put(&ns, q, (size_t)(dot - q));
	}
	if (ns.len)
		attr_str(b, n, "code.namespace", ns.p, ns.len);
	glass_buf_free(&ns);
	if (*d->filename)
		attr_cstr(b, n, "code.filepath", d->filename);
	if (d->line)
		attr_int(b, n, "code.lineno", d->line);
}

/* The span's attributes: its code, the captured operation's, its thread and generator. */
static void span_attrs(struct glass_buf *b, const struct glass_span *sp)
{
	int n = 0;
	glass_buf_puts(b, ",\"attributes\":[");
	if (sp->kind == GLASS_KIND_PYTHON) {
		if (sp->code) {
			code_attrs(b, &n, sp->code);
		} else {
			char fn[32];
			snprintf(fn, sizeof(fn), "<code %u>", sp->code_id);
			attr_cstr(b, &n, "code.function", fn);
		}
	}
	/* traceparent is in the trace and parent ids already */
	for (size_t i = 0; i < sp->nattrs; i++)
		if (!attr_is(&sp->attrs[i], "traceparent"))
			attr_span(b, &n, &sp->attrs[i]);
	attr_int(b, &n, "thread.id", sp->tid);
	if (sp->thread)
		attr_cstr(b, &n, "thread.name", sp->thread);
	if (sp->gen != GLASS_GEN_NONE) {
		attr_cstr(b, &n, "glass.generator", glass_gen_kind_name(sp->gen));
		attr_int(b, &n, "glass.resumes", sp->resumes);
		attr_int(b, &n, "glass.suspended_ns", (int64_t)sp->suspended_ns);
	}
	if (sp->status == GLASS_SPAN_LOST || sp->status == GLASS_SPAN_UNFINISHED)
		attr_cstr(b, &n, "glass.status", glass_span_status_name(sp->status));
	glass_buf_put(b, "]", 1);
}

/* A Python exception: an "exception" event, and "Type: message" as the status message (as
 * OpenTelemetry's Python SDK writes them). Ends the span. */
static void span_exception(struct glass_buf *b, const struct glass_span *sp, uint64_t end)
{
	struct glass_str type = sp->err_type, msg = sp->err_msg;
	int en = 0;
	glass_buf_printf(b,
			 ",\"events\":[{\"timeUnixNano\":\"%llu\",\"name\":\"exception\","
			 "\"attributes\":[",
			 (unsigned long long)end);
	if (type.p)
		attr_str(b, &en, "exception.type", type.p, type.len);
	if (msg.p)
		attr_str(b, &en, "exception.message", msg.p, msg.len);
	glass_buf_puts(b, "]}],\"status\":{\"code\":2");
	if (type.p || msg.p) {
		struct glass_buf m = {0};
		if (type.p)
			glass_buf_put(&m, type.p, type.len);
		if (type.p && msg.p)
			glass_buf_put(&m, ": ", 2);
		if (msg.p)
			glass_buf_put(&m, msg.p, msg.len);
		glass_buf_puts(b, ",\"message\":");
		put_str(b, m.p, m.len);
		glass_buf_free(&m);
	}
	glass_buf_puts(b, "}}");
}

static void write_span(struct otlp *O, struct glass_buf *b, const struct glass_span *sp)
{
	uint64_t end = sp->start_ns + sp->dur_ns;

	glass_buf_printf(b, "{\"traceId\":\"%016llx%016llx\"", (unsigned long long)sp->trace_hi,
			 (unsigned long long)sp->trace_lo);
	put_id(b, "spanId", sp->span_id);
	if (sp->parent_id)
		put_id(b, "parentSpanId", sp->parent_id);
	else if (sp->remote_parent_id) /* the caller's span (traceparent), in another process */
		put_id(b, "parentSpanId", sp->remote_parent_id);
	glass_buf_puts(b, ",\"name\":");
	glass_span_label(sp, O->label, sizeof(O->label));
	put_cstr(b, O->label);
	glass_buf_printf(
	    b, ",\"kind\":%d,\"startTimeUnixNano\":\"%llu\",\"endTimeUnixNano\":\"%llu\"",
	    otlp_kind(sp->kind), (unsigned long long)sp->start_ns, (unsigned long long)end);
	span_attrs(b, sp);
	if (sp->status != GLASS_SPAN_ERROR) {
		glass_buf_puts(b, ",\"status\":{}}");
		return;
	}
	if (sp->kind == GLASS_KIND_PYTHON) {
		span_exception(b, sp, end);
		return;
	}
	/* A failed operation (HTTP 5xx, a database error) is not an exception: its error.type
	 * attribute says what, the status message the database's words. */
	struct glass_str msg = sp->err_msg;
	if (!msg.p)
		msg = attr_sval(sp, "error.message");
	glass_buf_puts(b, ",\"status\":{\"code\":2");
	if (msg.p) {
		glass_buf_puts(b, ",\"message\":");
		put_str(b, msg.p, msg.len);
	}
	glass_buf_puts(b, "}}");
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct otlp *O = ctx;
	if (O->rc)
		return;
	struct glass_buf *b = &O->req;
	if (!O->open) {
		glass_buf_puts(b, "{\"resourceSpans\":[");
		O->open = 1;
	}
	if (!O->in_resource) {
		if (O->nresources++)
			glass_buf_put(b, ",", 1);
		glass_buf_put(b, O->resource.p, O->resource.len);
		O->in_resource = 1;
		O->first_span = 1;
	}
	if (!O->first_span)
		glass_buf_put(b, ",", 1);
	O->first_span = 0;
	write_span(O, b, sp);
	O->nspans++;
	O->spans++;
	if (O->batch && O->nspans >= O->batch)
		finish_request(O);
	else if (!O->url && b->len >= FILE_FLUSH_BYTES)
		write_out(O); /* the file is the concatenation: no need to hold a request whole */
}

/* ---- command --------------------------------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report otlp [SESSION...] [-o FILE | --endpoint URL] [--batch N] [--strict]\n"
	    "\n"
	    "Exports every completed span as OpenTelemetry traces in OTLP/JSON (the\n"
	    "ExportTraceServiceRequest message of opentelemetry-proto): to a file as JSON lines,\n"
	    "one request of up to --batch spans a line, or POSTed to a collector's OTLP/HTTP\n"
	    "endpoint. Each process is a resource (service.name, process.*, telemetry.sdk.*).\n"
	    "service.name is $GLASS_SERVICE_NAME, else $OTEL_SERVICE_NAME, else the script name.\n"
	    "\n"
	    "  -o, --output FILE      write to FILE instead of standard output\n"
	    "  -e, --endpoint URL     POST to an OTLP/HTTP collector, e.g.\n"
	    "                         http://localhost:4318/v1/traces (a URL without a path\n"
	    "                         gets /v1/traces)\n"
	    "  -b, --batch N          spans per request (default %d); 0 with -o: one request\n"
	    "                         for the whole session, i.e. a single JSON document\n"
	    "  -H, --header 'K: V'    extra HTTP header (repeatable), e.g. an API key\n"
	    "      --retries N        retries of a request on 429, 5xx and connection errors,\n"
	    "                         with a doubling delay from 0.25 s (default %d)\n"
	    "      --timeout SECONDS  time limit of one request (default %d)\n"
	    "      --strict           exit with status 3 when the session was read with warnings\n"
	    "  -h, --help             this text\n"
	    "\n%s"
	    "     (for otlp also: the collector could not be reached or refused the spans)\n",
	    DEFAULT_BATCH, DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, report_exit_help);
}

static int parse_count(const char *opt, const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v > max) {
		report_error("%s wants a number from 0 to %lu, not '%s'", opt, max, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* The endpoint URL; a URL with no path gets the OTLP traces path. */
static char *endpoint_url(const char *arg)
{
	const char *sep = strstr(arg, "://");
	if (!sep || (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8)))
		return NULL;
	const char *path = strchr(sep + 3, '/');
	size_t n = strlen(arg);
	char *url = malloc(n + sizeof("/v1/traces"));
	if (!url)
		return NULL;
	memcpy(url, arg, n + 1);
	if (!path)
		strcat(url, "/v1/traces");
	else if (path[1] == 0)
		strcat(url, "v1/traces");
	return url;
}

static int setup_curl(struct otlp *O, char **hdrs, size_t nhdrs)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(O->curl = curl_easy_init())) {
		report_error("cannot initialise libcurl");
		return -1;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = h ? curl_slist_append(h, "Expect:") : NULL; /* no 100-continue round trip */
	for (size_t i = 0; h && i < nhdrs; i++)
		h = curl_slist_append(h, hdrs[i]);
	if (!h) {
		report_error("out of memory");
		return -1;
	}
	O->headers = h;
	CURL *c = O->curl;
	curl_easy_setopt(c, CURLOPT_URL, O->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "glass-report/" GLASS_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, O->curl_err);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &O->body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, O->timeout_s);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	return 0;
}

/* The command line beyond the shared options. */
struct otlp_cmd {
	struct otlp *O;
	const char *endpoint;
	char **hdrs;
	size_t nhdrs;
	int batch_set;
};

static int add_header(struct otlp_cmd *C, const char *arg)
{
	if (!strchr(arg, ':')) {
		report_error("--header wants 'Name: value', not '%s'", arg);
		return GLASS_EXIT_USAGE;
	}
	char **h = realloc(C->hdrs, (C->nhdrs + 1) * sizeof(*h));
	if (!h) {
		report_error("out of memory");
		return GLASS_EXIT_USAGE;
	}
	C->hdrs = h;
	C->hdrs[C->nhdrs++] = (char *)arg;
	return 0;
}

static int otlp_option(void *ctx, int c, const char *arg)
{
	struct otlp_cmd *C = ctx;
	unsigned long v;
	switch (c) {
	case 'e':
		C->endpoint = arg;
		return 0;
	case 'b':
		if (parse_count("--batch", arg, 1000000, &v))
			return GLASS_EXIT_USAGE;
		C->O->batch = v;
		C->batch_set = 1;
		return 0;
	case 'H':
		return add_header(C, arg);
	case 'R':
		if (parse_count("--retries", arg, 20, &v))
			return GLASS_EXIT_USAGE;
		C->O->retries = (unsigned)v;
		return 0;
	case 'T':
		if (parse_count("--timeout", arg, 86400, &v))
			return GLASS_EXIT_USAGE;
		if (!v) {
			report_error("--timeout wants at least 1 second");
			return GLASS_EXIT_USAGE;
		}
		C->O->timeout_s = (long)v;
		return 0;
	}
	return 0;
}

/* The options that go together (or not); 0 or GLASS_EXIT_USAGE. */
static int check_options(struct otlp_cmd *C, const char *output)
{
	if (output && C->endpoint) {
		report_error("give either -o FILE or --endpoint URL, not both");
		return GLASS_EXIT_USAGE;
	}
	if (C->endpoint) {
		if (!(C->O->url = endpoint_url(C->endpoint))) {
			report_error("--endpoint wants an http:// or https:// URL, not '%s'",
				     C->endpoint);
			return GLASS_EXIT_USAGE;
		}
		if (C->batch_set && !C->O->batch) {
			report_error(
			    "--batch 0 (one request) is for files; a collector wants batches");
			return GLASS_EXIT_USAGE;
		}
	}
	if (C->nhdrs && !C->endpoint) {
		report_error("--header is for --endpoint");
		return GLASS_EXIT_USAGE;
	}
	return 0;
}

/* Every process of every session as a resource, its threads' spans in requests: several
 * sessions (services calling each other) make one export. */
static void export_sessions(struct otlp *O, struct glass_session **ss, size_t nss)
{
	for (size_t k = 0; k < nss && !O->rc; k++) {
		O->s = ss[k];
		struct glass_progress *pg = report_progress(O->s, "otlp");
		for (size_t pi = 0; pi < glass_session_nprocs(O->s) && !O->rc; pi++) {
			struct glass_proc *p = glass_session_proc(O->s, pi);
			const uint32_t *tidx;
			size_t n = glass_proc_threads(p, &tidx);
			close_resource(O);
			build_resource(O, p);
			for (size_t ti = 0; ti < n && !O->rc; ti++)
				report_run_thread(p, tidx[ti], glass_span_ids_for(O->s, pi, ti),
						  NULL, on_span, O, NULL, pg);
		}
		glass_progress_end(pg);
	}
	if (!O->rc) {
		if (!O->spans && !O->url) {
			glass_buf_puts(&O->req, "{\"resourceSpans\":[]}\n");
			write_out(O);
		}
		finish_request(O);
	}
}

/* After the export: the first failure, the output's state, what was sent. */
static int export_status(struct otlp *O, struct report_out *out)
{
	int rc = GLASS_EXIT_OK;
	if (O->rc) {
		report_error("%s", O->err);
		rc = O->rc;
	}
	if (O->out) {
		int orc = report_out_close(out, 0);
		if (!rc)
			rc = orc;
	}
	if (O->url && !O->rc)
		fprintf(stderr, "glass-report: sent %llu spans in %llu request%s to %s\n",
			(unsigned long long)O->spans, (unsigned long long)O->requests,
			O->requests == 1 ? "" : "s", O->url);
	if (O->rejected)
		report_error("warning: the collector rejected %llu of the spans (partialSuccess)",
			     (unsigned long long)O->rejected);
	return rc;
}

static void otlp_free(struct otlp *O)
{
	if (O->curl)
		curl_easy_cleanup(O->curl);
	curl_slist_free_all(O->headers);
	glass_buf_free(&O->req);
	glass_buf_free(&O->resource);
	glass_buf_free(&O->body);
	free(O->url);
}

/* Where the spans go: the collector, or the output file; 0 or the exit status. */
static int open_sink(struct otlp *O, struct otlp_cmd *C, struct report_out *out, const char *output)
{
	if (O->url)
		return setup_curl(O, C->hdrs, C->nhdrs) < 0 ? GLASS_EXIT_OUTPUT : 0;
	if (report_out_open(out, output))
		return GLASS_EXIT_OUTPUT;
	O->out = out->f;
	O->out_name = out->name;
	return 0;
}

int command_otlp(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"endpoint", required_argument, NULL, 'e'}, {"batch", required_argument, NULL, 'b'},
	    {"header", required_argument, NULL, 'H'},	{"retries", required_argument, NULL, 'R'},
	    {"timeout", required_argument, NULL, 'T'},	{NULL, 0, NULL, 0}};
	struct otlp O = {
	    .batch = DEFAULT_BATCH, .retries = DEFAULT_RETRIES, .timeout_s = DEFAULT_TIMEOUT_S};
	struct otlp_cmd C = {.O = &O};
	const struct report_cli cli = {.name = "otlp",
				       .usage = usage,
				       .output = 1,
				       .shortopts = "e:b:H:",
				       .longopts = opts,
				       .option = otlp_option,
				       .ctx = &C};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status < 0 && (status = check_options(&C, a.output)) == 0)
		status = -1;
	struct glass_session *ss[REPORT_MAX_SESSIONS];
	size_t nss = status < 0 ? report_sessions(&a, ss, REPORT_MAX_SESSIONS, &status) : 0;
	O.s = nss ? ss[0] : NULL;
	if (!O.s) {
		free(C.hdrs);
		free(O.url);
		return status;
	}
	struct report_out out = {0};
	int rc = open_sink(&O, &C, &out, a.output);
	if (!rc) {
		export_sessions(&O, ss, nss);
		rc = export_status(&O, &out);
	}
	free(C.hdrs);
	otlp_free(&O);
	return report_finish_many(&a, ss, nss, rc);
}

/* ---- for `otlp --follow` (tools/follow-otlp.c): the same JSON as this command writes ---------- */

void otlp_span_json(struct glass_buf *b, const struct glass_span *sp)
{
	static struct otlp O; /* write_span only uses its label buffer */
	write_span(&O, b, sp);
}

void otlp_service_name(const struct glass_proc_info *in, char *out, size_t cap)
{
	service_name(in, out, cap);
}
