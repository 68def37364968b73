/* tools/follow-otlp.c — `glass-report otlp --follow --endpoint URL`: spans to an OTLP/HTTP
 * collector while the session is recorded.
 *
 * The live reader (live.c) hands over each span as it completes; spans go into one request of
 * at most --batch spans, POSTed when full or when its oldest span has waited --max-delay (at
 * most 1 s). A request that fails (no connection, 429, 5xx) is retried with a doubling delay
 * (0.25 s up to 30 s) for as long as it takes: meanwhile nothing more is read, so memory stays
 * one request and the recording waits on disk. A 4xx answer other than 408/429 means the
 * collector will never take that request: it is dropped with a message and counted.
 *
 * Position: after every delivered request the count of spans delivered per thread (process
 * image, thread index) goes to the position file (written whole, then renamed into place).
 * A thread's spans complete in the same order on every read of the same data, so a restarted
 * follower reads the session again from the start and skips, per thread, the spans already
 * delivered: nothing still on disk is lost, and after SIGINT/SIGTERM (the request in flight is
 * finished and the position saved) nothing is sent twice. A SIGKILL after the collector took a
 * request and before its answer was read resends that one request (with the same span ids).
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "follow.h"
#include "analysis/live.h"
#include "report.h"
#include "analysis/stats.h"
#include "analysis/text.h"

#define DEFAULT_BATCH	 1024
#define DEFAULT_DELAY_MS 500
#define POLL_MS		 100
#define BACKOFF_MS	 250
#define MAX_BACKOFF_MS	 30000
#define POSITION_MAGIC	 "glass-otlp-position 1"

/* Per (process image, thread): spans delivered, and spans in the request being built. */
struct pos {
	uint64_t done;	  /* delivered (or skipped at start: delivered by an earlier run) */
	uint64_t pending; /* highest ordinal in the open request */
};

/* Per process image in the open request: its spans, joined by commas. */
struct part {
	char key[32];
	struct glass_buf spans;
	size_t n;
};

struct follow {
	struct glass_live *L;
	const char *url;
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	char position[4200], position_tmp[4300];
	struct glass_ftable *pos; /* "key tidx" -> struct pos (user pointer) */
	struct part *parts;
	size_t nparts, partcap;
	size_t batch, nspans;
	uint64_t oldest_ns; /* CLOCK_MONOTONIC when the open request got its first span */
	long delay_ms;
	struct glass_buf req, body;
	uint64_t sent, skipped, requests, dropped, retries;
	int oom;
};

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
	stop_flag = sig;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct pos *pos_of(struct follow *F, const char *key, uint32_t tidx)
{
	char k[64];
	int n = snprintf(k, sizeof(k), "%s %u", key, tidx);
	int added;
	long i = glass_ftable_intern(F->pos, k, (size_t)n, &added);
	if (i < 0)
		return NULL;
	struct pos *p = (struct pos *)glass_ftable_user(F->pos, (size_t)i);
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return NULL;
		glass_ftable_set_user(F->pos, (size_t)i, p);
	}
	return p;
}

static int load_position(struct follow *F)
{
	FILE *f = fopen(F->position, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	char line[256];
	int ok =
	    fgets(line, sizeof(line), f) && !strncmp(line, POSITION_MAGIC, strlen(POSITION_MAGIC));
	while (ok && fgets(line, sizeof(line), f)) {
		char key[64];
		unsigned tidx;
		unsigned long long n;
		if (sscanf(line, "%63s %u %llu", key, &tidx, &n) != 3)
			continue;
		struct pos *p = pos_of(F, key, tidx);
		if (p)
			p->done = p->pending = n;
	}
	fclose(f);
	if (!ok)
		report_error("%s is not a position file of otlp --follow (first line \"%s\"); "
			     "remove it or name another with --position",
			     F->position, POSITION_MAGIC);
	return ok ? 0 : -2;
}

static int save_position(struct follow *F)
{
	FILE *f = fopen(F->position_tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%s\n", POSITION_MAGIC);
	for (size_t i = 0; i < glass_ftable_size(F->pos); i++) {
		const struct pos *p = glass_ftable_user(F->pos, i);
		size_t kl;
		const char *k = glass_ftable_key(F->pos, i, &kl);
		if (p && p->done)
			fprintf(f, "%.*s %llu\n", (int)kl, k, (unsigned long long)p->done);
	}
	if (fclose(f) != 0 || rename(F->position_tmp, F->position) != 0)
		return -1;
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct glass_buf *b = ctx;
	if (b->len < 2048)
		glass_buf_put(b, p, size * n < 2048 - b->len ? size * n : 2048 - b->len);
	return size * n;
}

/* The resource of a process image: as `otlp` writes it (service.name, process.*, sdk). */
static void put_resource(struct follow *F, struct glass_buf *b, const struct glass_live_proc *lp)
{
	struct glass_proc_info in = {0};
	in.pid = lp->pid;
	in.ppid = lp->ppid;
	in.argv = lp->argv;
	in.argc = lp->argc;
	in.executable = lp->executable;
	in.python = lp->python;
	char name[512], sid[17];
	otlp_service_name(&in, name, sizeof(name));
	snprintf(sid, sizeof(sid), "%016llx", (unsigned long long)glass_live_session_id(F->L));
	glass_buf_puts(b, "{\"resource\":{\"attributes\":[{\"key\":\"service.name\",\"value\":"
			  "{\"stringValue\":");
	glass_json_str(b, name, strlen(name));
	glass_buf_printf(b, "}},{\"key\":\"process.pid\",\"value\":{\"intValue\":\"%u\"}}",
			 lp->pid);
	if (lp->ppid)
		glass_buf_printf(
		    b, ",{\"key\":\"process.parent_pid\",\"value\":{\"intValue\":\"%u\"}}",
		    lp->ppid);
	if (lp->executable && *lp->executable) {
		glass_buf_puts(b,
			       ",{\"key\":\"process.executable.path\",\"value\":{\"stringValue\":");
		glass_json_str(b, lp->executable, strlen(lp->executable));
		glass_buf_puts(b, "}}");
	}
	if (lp->argc) {
		glass_buf_puts(b, ",{\"key\":\"process.command_args\",\"value\":{\"arrayValue\":"
				  "{\"values\":[");
		for (uint32_t i = 0; i < lp->argc; i++) {
			glass_buf_puts(b, i ? ",{\"stringValue\":" : "{\"stringValue\":");
			glass_json_str(b, lp->argv[i], strlen(lp->argv[i]));
			glass_buf_put(b, "}", 1);
		}
		glass_buf_puts(b, "]}}}");
	}
	glass_buf_puts(
	    b, ",{\"key\":\"process.runtime.name\",\"value\":{\"stringValue\":\"cpython\"}}");
	if (lp->python && *lp->python) {
		glass_buf_puts(b,
			       ",{\"key\":\"process.runtime.version\",\"value\":{\"stringValue\":");
		glass_json_str(b, lp->python, strlen(lp->python));
		glass_buf_puts(b, "}}");
	}
	glass_buf_printf(
	    b,
	    ",{\"key\":\"telemetry.sdk.name\",\"value\":{\"stringValue\":\"glass\"}}"
	    ",{\"key\":\"telemetry.sdk.language\",\"value\":{\"stringValue\":\"python\"}}"
	    ",{\"key\":\"telemetry.sdk.version\",\"value\":{\"stringValue\":\"%s\"}}"
	    ",{\"key\":\"glass.session.id\",\"value\":{\"stringValue\":\"%s\"}}]},"
	    "\"scopeSpans\":[{\"scope\":{\"name\":\"glass\",\"version\":\"%s\"},"
	    "\"spans\":[",
	    GLASS_VERSION, sid, GLASS_VERSION);
}

static const struct glass_live_proc *live_proc_by_key(struct follow *F, const char *key)
{
	for (size_t i = 0; i < glass_live_nprocs(F->L); i++)
		if (!strcmp(glass_live_proc(F->L, i)->key, key))
			return glass_live_proc(F->L, i);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (!stop_flag && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Delivers the open request, retrying until it is taken (or refused for good, or we are
 * told to stop: then 1 and nothing is marked delivered). */
static int deliver(struct follow *F)
{
	if (!F->nspans)
		return 0;
	struct glass_buf *b = &F->req;
	b->len = 0;
	glass_buf_puts(b, "{\"resourceSpans\":[");
	for (size_t i = 0; i < F->nparts; i++) {
		const struct glass_live_proc *lp = live_proc_by_key(F, F->parts[i].key);
		struct glass_live_proc none = {0};
		if (!lp) {
			snprintf(none.key, sizeof(none.key), "%s", F->parts[i].key);
			none.command = none.python = none.executable = "";
			lp = &none;
		}
		if (i)
			glass_buf_put(b, ",", 1);
		put_resource(F, b, lp);
		glass_buf_put(b, F->parts[i].spans.p, F->parts[i].spans.len);
		glass_buf_puts(b, "]}]}");
	}
	glass_buf_puts(b, "]}");
	if (b->oom) {
		F->oom = 1;
		return -1;
	}
	CURL *c = F->curl;
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, b->p);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
	long delay = BACKOFF_MS;
	int delivered = 0;
	for (;;) {
		F->body.len = 0;
		F->curl_err[0] = 0;
		CURLcode rc = curl_easy_perform(c);
		long code = 0;
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		if (rc == CURLE_OK && code >= 200 && code < 300) {
			delivered = 1;
			break;
		}
		if (rc == CURLE_OK && code >= 400 && code < 500 && code != 408 && code != 429) {
			report_error("%s answered HTTP %ld to a request of %zu spans: dropped "
				     "(%.*s)",
				     F->url, code, F->nspans, (int)F->body.len,
				     F->body.p ? F->body.p : "");
			F->dropped += F->nspans;
			break;
		}
		if (stop_flag)
			return 1;
		F->retries++;
		if (F->retries == 1 || F->retries % 20 == 0)
			report_error("%s: %s; retrying in %.2f s (the spans wait on disk)", F->url,
				     rc != CURLE_OK
					 ? (F->curl_err[0] ? F->curl_err : curl_easy_strerror(rc))
					 : "HTTP error",
				     (double)delay / 1000);
		sleep_ms(delay);
		delay = delay * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : delay * 2;
	}
	if (delivered) {
		F->sent += F->nspans;
		F->requests++;
	}
	/* delivered (or refused for good): the position moves past these spans */
	for (size_t i = 0; i < glass_ftable_size(F->pos); i++) {
		struct pos *p = (struct pos *)glass_ftable_user(F->pos, i);
		if (p)
			p->done = p->pending;
	}
	if (save_position(F) < 0)
		report_error("cannot write the position file %s: %m", F->position);
	for (size_t i = 0; i < F->nparts; i++)
		F->parts[i].spans.len = 0, F->parts[i].n = 0;
	F->nparts = 0;
	F->nspans = 0;
	return 0;
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct follow *F = ctx;
	const struct glass_live_cursor *cur = glass_live_cursor(F->L);
	struct pos *p = pos_of(F, cur->key, cur->tidx);
	if (!p) {
		F->oom = 1;
		return;
	}
	if (cur->nth <= p->done) {
		F->skipped++; /* delivered by an earlier run */
		return;
	}
	struct part *pt = NULL;
	for (size_t i = 0; i < F->nparts; i++)
		if (!strcmp(F->parts[i].key, cur->key))
			pt = &F->parts[i];
	if (!pt) {
		if (F->nparts == F->partcap) {
			struct part *v = realloc(F->parts, (F->partcap + 1) * sizeof(*v));
			if (!v) {
				F->oom = 1;
				return;
			}
			F->parts = v;
			memset(&F->parts[F->partcap++], 0, sizeof(*v));
		}
		pt = &F->parts[F->nparts++]; /* its buffer is kept from earlier requests */
		pt->n = 0;
		pt->spans.len = 0;
		snprintf(pt->key, sizeof(pt->key), "%s", cur->key);
	}
	if (pt->n++)
		glass_buf_put(&pt->spans, ",", 1);
	otlp_span_json(&pt->spans, sp);
	p->pending = cur->nth;
	if (!F->nspans++)
		F->oldest_ns = mono_ns();
	if (F->nspans >= F->batch)
		deliver(F); /* blocks while the collector is away: backpressure on the reader */
}

int follow_session_path(const char *arg, char *out, size_t cap)
{
	struct glass_session *s = report_open(arg);
	if (!s)
		return -1;
	snprintf(out, cap, "%s", glass_session_dir(s));
	glass_session_close(s);
	return 0;
}

int follow_has_option(int argc, char **argv, const char *opt)
{
	size_t n = strlen(opt);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return 0;
		if (!strncmp(argv[i], opt, n) && (argv[i][n] == 0 || argv[i][n] == '='))
			return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report otlp --follow [SESSION] --endpoint URL [--batch N]\n"
	    "                         [--max-delay MS] [--position FILE] [-H 'K: V']...\n"
	    "\n"
	    "Sends each span to an OTLP/HTTP collector soon after it ends, while the session is\n"
	    "recorded (the newest session by default), until every process has ended.\n"
	    "Requests are as `glass-report otlp` writes them (OTLP/JSON).\n"
	    "\n"
	    "  -e, --endpoint URL   the collector, e.g. http://localhost:4318/v1/traces (a URL\n"
	    "                       without a path gets /v1/traces)\n"
	    "  -b, --batch N        spans per request at most (default %d)\n"
	    "      --max-delay MS   longest a span waits for its request (default %d, at most\n"
	    "                       1000)\n"
	    "      --position FILE  what was delivered, per thread (default\n"
	    "                       SESSION/follow-otlp.pos); a restart resumes from it\n"
	    "  -H, --header 'K: V'  extra HTTP header (repeatable)\n"
	    "  -h, --help           this text\n"
	    "\n"
	    "A failed request (no connection, 429, 5xx) is retried with a doubling delay up to\n"
	    "30 s, for as long as it takes; meanwhile nothing more is read (one request in\n"
	    "memory). SIGINT/SIGTERM: the open request is sent once more, then it exits.\n"
	    "\n%s",
	    DEFAULT_BATCH, DEFAULT_DELAY_MS, report_exit_help);
}

/* What the command line of otlp --follow asks for, besides the shared options. */
struct follow_cmd {
	struct follow *F;
	const char *endpoint, *position;
	char *hdrs[32];
	size_t nhdrs;
};

static int follow_option(void *ctx, int c, const char *arg)
{
	struct follow_cmd *C = ctx;
	char *end;
	switch (c) {
	case 'F':
		break;
	case 'e':
		C->endpoint = arg;
		break;
	case 'b':
		C->F->batch = strtoul(arg, &end, 10);
		if (*end || !C->F->batch || C->F->batch > 100000) {
			report_error("--batch wants a number from 1 to 100000, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	case 'd':
		C->F->delay_ms = strtol(arg, &end, 10);
		if (*end || C->F->delay_ms < 0 || C->F->delay_ms > 1000) {
			report_error("--max-delay wants milliseconds from 0 to 1000, not '%s'", arg);
			return GLASS_EXIT_USAGE;
		}
		break;
	case 'P':
		C->position = arg;
		break;
	case 'H':
		if (C->nhdrs == 32) {
			report_error("at most 32 --header options");
			return GLASS_EXIT_USAGE;
		}
		C->hdrs[C->nhdrs++] = (char *)arg;
		break;
	}
	return 0;
}

int command_otlp_follow(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"follow", no_argument, NULL, 'F'},		{"endpoint", required_argument, NULL, 'e'},
	    {"batch", required_argument, NULL, 'b'},	{"max-delay", required_argument, NULL, 'd'},
	    {"position", required_argument, NULL, 'P'}, {"header", required_argument, NULL, 'H'},
	    {NULL, 0, NULL, 0}};
	struct follow F = {0};
	F.batch = DEFAULT_BATCH;
	F.delay_ms = DEFAULT_DELAY_MS;
	struct follow_cmd C = {.F = &F};
	const struct report_cli cli = {.name = "otlp --follow",
				       .usage = usage,
				       .no_strict = 1,
				       .shortopts = "e:b:H:",
				       .longopts = opts,
				       .option = follow_option,
				       .ctx = &C};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	const char *endpoint = C.endpoint, *position = C.position;
	char **hdrs = C.hdrs;
	size_t nhdrs = C.nhdrs;
	int optind_ = a.first;
	if (!endpoint) {
		report_error("otlp --follow needs --endpoint URL (an OTLP/HTTP collector)");
		return GLASS_EXIT_USAGE;
	}
	if (strncmp(endpoint, "http://", 7) && strncmp(endpoint, "https://", 8)) {
		report_error("--endpoint wants an http:// or https:// URL, not '%s'", endpoint);
		return GLASS_EXIT_USAGE;
	}
	if (argc - optind_ > 1) {
		report_error("otlp --follow takes one SESSION, not %d operands", argc - optind_);
		return GLASS_EXIT_USAGE;
	}
	char dir[4096];
	if (follow_session_path(optind_ < argc ? argv[optind_] : NULL, dir, sizeof(dir)) < 0)
		return GLASS_EXIT_SESSION;
	char url[4200];
	const char *sep = strstr(endpoint, "://"), *path = strchr(sep + 3, '/');
	snprintf(url, sizeof(url), "%s%s", endpoint,
		 !path		? "/v1/traces"
		 : path[1] == 0 ? "v1/traces"
				: "");
	F.url = url;
	snprintf(F.position, sizeof(F.position), "%s", position ? position : "");
	if (!position)
		snprintf(F.position, sizeof(F.position), "%s/follow-otlp.pos", dir);
	snprintf(F.position_tmp, sizeof(F.position_tmp), "%s.tmp", F.position);
	if (!(F.pos = glass_ftable_new()))
		return GLASS_EXIT_OUTPUT;
	int lp = load_position(&F);
	if (lp == -2)
		return GLASS_EXIT_USAGE;
	if (lp < 0) {
		report_error("cannot read the position file %s: %m", F.position);
		return GLASS_EXIT_OUTPUT;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(F.curl = curl_easy_init())) {
		report_error("cannot initialise libcurl");
		return GLASS_EXIT_OUTPUT;
	}
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	for (size_t i = 0; i < nhdrs; i++)
		h = curl_slist_append(h, hdrs[i]);
	F.headers = h;
	curl_easy_setopt(F.curl, CURLOPT_URL, F.url);
	curl_easy_setopt(F.curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(F.curl, CURLOPT_USERAGENT, "glass-report/" GLASS_VERSION);
	curl_easy_setopt(F.curl, CURLOPT_ERRORBUFFER, F.curl_err);
	curl_easy_setopt(F.curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(F.curl, CURLOPT_WRITEDATA, &F.body);
	curl_easy_setopt(F.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(F.curl, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(F.curl, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(F.curl, CURLOPT_PROTOCOLS_STR, "http,https");

	struct sigaction sa = {0};
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int rc = GLASS_EXIT_OK;
	if (!(F.L = glass_live_open(dir, on_span, &F)))
		rc = GLASS_EXIT_SESSION;
	while (rc == GLASS_EXIT_OK && !stop_flag) {
		long n = glass_live_poll(F.L);
		const char *w;
		while ((w = glass_live_warning(F.L)))
			report_error("warning: %s", w);
		int finished = glass_live_finished(F.L);
		if (F.nspans &&
		    (finished || mono_ns() - F.oldest_ns >= (uint64_t)F.delay_ms * 1000000ull))
			deliver(&F);
		if (F.oom) {
			report_error("out of memory");
			rc = GLASS_EXIT_OUTPUT;
			break;
		}
		if (finished && !F.nspans)
			break;
		if (n == 0) {
			long wait = POLL_MS;
			if (F.nspans) {
				uint64_t age = (mono_ns() - F.oldest_ns) / 1000000;
				long left = F.delay_ms - (long)age;
				if (left < wait)
					wait = left > 0 ? left : 0;
			}
			sleep_ms(wait);
		}
	}
	if (stop_flag && F.nspans) {
		/* one last try for what was read; what is not delivered stays on disk */
		stop_flag = 0;
		struct sigaction dfl = {0};
		dfl.sa_handler = SIG_DFL;
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		curl_easy_setopt(F.curl, CURLOPT_TIMEOUT, 5L);
		stop_flag = 1; /* deliver() tries once */
		deliver(&F);
	}
	fprintf(stderr,
		"glass-report: otlp --follow: %llu spans sent in %llu requests, %llu already "
		"sent before (skipped), %llu refused by the collector%s\n",
		(unsigned long long)F.sent, (unsigned long long)F.requests,
		(unsigned long long)F.skipped, (unsigned long long)F.dropped,
		rc == GLASS_EXIT_OK && glass_live_finished(F.L) ? "; every process has ended" : "");
	glass_live_close(F.L);
	for (size_t i = 0; i < glass_ftable_size(F.pos); i++)
		free((void *)glass_ftable_user(F.pos, i));
	glass_ftable_free(F.pos);
	for (size_t i = 0; i < F.partcap; i++)
		glass_buf_free(&F.parts[i].spans);
	free(F.parts);
	glass_buf_free(&F.req);
	glass_buf_free(&F.body);
	curl_slist_free_all(F.headers);
	curl_easy_cleanup(F.curl);
	if (F.dropped && rc == GLASS_EXIT_OK)
		rc = GLASS_EXIT_OUTPUT;
	return rc;
}
