/* tools/cmd-html.c — `glass-report html`: the recording as one self-contained HTML dashboard.
 *
 * One pass over every thread's spans gathers bounded aggregates (functions, endpoints,
 * statements, threads), the slowest and the failed requests with the spans of their traces
 * (a waterfall each), and the slowest single statements; a second pass builds the flame graph.
 * Everything taken from the recording goes through html_text(): names, routes and SQL can be
 * hostile and must never become markup. The page fetches nothing: CSS and script are inline,
 * the flame graph is an inline-escaped SVG document in an <iframe srcdoc>.
 */
#include <stdlib.h>
#include <string.h>

#include "analysis/aggregate.h"
#include "analysis/flame.h"
#include "html-charts.h"
#include "analysis/progress.h"
#include "native.h"
#include "report.h"
#include "analysis/spans.h"
#include "analysis/stats.h"
#include "analysis/text.h"

#define MAX_REQUESTS	 100	/* slowest requests kept with their waterfall, and as many failed */
#define MAX_TREE_SPANS	 400	/* spans shown in one waterfall (the longest ones) */
#define MAX_BUFFERED	 200000 /* spans buffered while waiting for their request to end */
#define MAX_SLOW_QUERIES 50
#define LABEL_MAX	 300

/* ---- HTML text ------------------------------------------------------------------------------ */

/* Appends s as HTML text (also safe inside a double-quoted attribute): & < > " ' escaped,
 * control bytes dropped, invalid UTF-8 replaced. */
static void html_text(struct glass_buf *b, const char *s, size_t len)
{
	if (!s)
		return;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		switch (c) {
		case '&':
			glass_buf_puts(b, "&amp;");
			i++;
			continue;
		case '<':
			glass_buf_puts(b, "&lt;");
			i++;
			continue;
		case '>':
			glass_buf_puts(b, "&gt;");
			i++;
			continue;
		case '"':
			glass_buf_puts(b, "&quot;");
			i++;
			continue;
		case '\'':
			glass_buf_puts(b, "&#39;");
			i++;
			continue;
		default:
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			glass_buf_put(b, c == '\n' || c == '\t' ? " " : "", c == '\n' || c == '\t');
			i++;
			continue;
		}
		if (c < 0x80) {
			glass_buf_put(b, &s[i], 1);
			i++;
			continue;
		}
		size_t n = glass_utf8_seq(s + i, len - i);
		if (!n) {
			glass_buf_puts(b, "\xef\xbf\xbd");
			i++;
			continue;
		}
		glass_buf_put(b, s + i, n);
		i += n;
	}
}

static void html_cstr(struct glass_buf *b, const char *s)
{
	html_text(b, s, s ? strlen(s) : 0);
}

static void html_dur(struct glass_buf *b, uint64_t ns)
{
	char t[32];
	glass_fmt_dur(t, sizeof(t), ns);
	glass_buf_puts(b, t);
}

/* ---- what is gathered ----------------------------------------------------------------------- */

/* What a span says beyond its timing: "args → result", then its events ("caught KeyError:
 * ...", "log WARNING app: ..."), joined with " · "; NULL when it has none. */
static char *span_note(const struct glass_span *sp)
{
	if (!sp->args.p && !sp->result.p && !sp->nevents)
		return NULL;
	struct glass_buf d = {0};
	if (sp->args.p || sp->result.p) {
		glass_buf_put(&d, sp->args.p ? sp->args.p : "(...)", sp->args.p ? sp->args.len : 5);
		if (sp->result.p) {
			glass_buf_puts(&d, " → ");
			glass_buf_put(&d, sp->result.p, sp->result.len);
		}
	}
	for (size_t i = 0; i < sp->nevents; i++) {
		const struct glass_span_event *e = &sp->events[i];
		if (d.len)
			glass_buf_puts(&d, " · ");
		if (e->kind == GLASS_EVENT_LOG)
			glass_buf_printf(&d, "log %s ", glass_log_level_name(e->level));
		else
			glass_buf_puts(&d, e->handled ? "caught " : "raised ");
		if (e->name.p)
			glass_buf_put(&d, e->name.p, e->name.len);
		if (e->text.p) {
			glass_buf_puts(&d, ": ");
			glass_buf_put(&d, e->text.p, e->text.len > 512 ? 512 : e->text.len);
		}
	}
	glass_buf_put(&d, "", 1);
	char *s = d.oom ? NULL : d.p;
	if (!s)
		glass_buf_free(&d);
	return s;
}

struct wspan { /* a span of a kept request's trace */
	char *label;
	uint64_t start_ns, dur_ns;
	uint32_t depth;
	uint8_t kind, status;
	char *err;
	char *note; /* arguments → result, caught exceptions, log records (malloc, or NULL) */
};

struct request {
	char *label;
	uint64_t start_ns, dur_ns;
	int64_t status_code;
	int error;
	uint32_t pid, tid;
	char trace[33];
	struct wspan *spans;
	size_t nspans;
};

struct slowq {
	char *system, *stmt;
	uint64_t start_ns, dur_ns;
	int64_t rows;
	int error;
	char *err;
};

struct thread_row {
	uint32_t pid, tid;
	char *name;
	uint64_t spans, busy_ns, cpu_ns;
};

/* Spans of one trace buffered until its root ends (per thread). */
struct pending {
	uint64_t hi, lo;
	struct wspan *spans;
	size_t n, cap;
};

struct html {
	struct glass_agg agg; /* functions, endpoints and statements, as summary has them */
	struct request slow[MAX_REQUESTS], failed[MAX_REQUESTS];
	size_t nslow, nfailed;
	uint64_t requests, failed_seen;
	struct slowq queries[MAX_SLOW_QUERIES];
	size_t nqueries;
	struct pending *pend;
	size_t npend, cappend, buffered;
	uint64_t dropped_trees;
	struct thread_row *threads;
	size_t nthreads, capthreads;
	uint64_t first_ns, last_ns, events, lost, spans;
	int oom;
	struct glass_charts *charts; /* html-charts.c */
};

static char *dupn(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (!d)
		return NULL;
	if (n)
		memcpy(d, s, n);
	d[n] = 0;
	return d;
}

static char *dups(const char *s)
{
	return s ? dupn(s, strlen(s)) : NULL;
}

static int64_t attr_i(const struct glass_span *sp, const char *key, int64_t dflt)
{
	const struct glass_attr *a = glass_span_attr(sp, key);
	return a && a->type == GLASS_ATTR_INT ? a->i : dflt;
}

static void wspan_free(struct wspan *w)
{
	free(w->label);
	free(w->err);
	free(w->note);
}

static void request_free(struct request *r)
{
	free(r->label);
	for (size_t i = 0; i < r->nspans; i++)
		wspan_free(&r->spans[i]);
	free(r->spans);
	memset(r, 0, sizeof(*r));
}

static struct pending *pending_for(struct html *H, uint64_t hi, uint64_t lo, int create)
{
	for (size_t i = H->npend; i-- > 0;)
		if (H->pend[i].hi == hi && H->pend[i].lo == lo)
			return &H->pend[i];
	if (!create)
		return NULL;
	if (H->npend == H->cappend) {
		size_t cap = H->cappend ? H->cappend * 2 : 16;
		struct pending *p = realloc(H->pend, cap * sizeof(*p));
		if (!p)
			return NULL;
		H->pend = p;
		H->cappend = cap;
	}
	struct pending *p = &H->pend[H->npend++];
	memset(p, 0, sizeof(*p));
	p->hi = hi;
	p->lo = lo;
	return p;
}

static void pending_drop(struct html *H, struct pending *p)
{
	for (size_t i = 0; i < p->n; i++)
		wspan_free(&p->spans[i]);
	free(p->spans);
	H->buffered -= p->n;
	*p = H->pend[--H->npend];
}

static int by_dur_desc(const void *a, const void *b)
{
	const struct wspan *x = a, *y = b;
	return x->dur_ns < y->dur_ns ? 1 : x->dur_ns > y->dur_ns ? -1 : 0;
}

static int by_start(const void *a, const void *b)
{
	const struct wspan *x = a, *y = b;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* Keeps request r (taking its spans) in the slowest-N or failed-N list. */
static void keep_request(struct html *H, struct request *r)
{
	struct request *list = r->error ? H->failed : H->slow;
	size_t *n = r->error ? &H->nfailed : &H->nslow;
	if (r->error) {
		if (*n == MAX_REQUESTS) { /* the first ones are kept */
			request_free(r);
			return;
		}
		list[(*n)++] = *r;
		return;
	}
	if (*n < MAX_REQUESTS) {
		list[(*n)++] = *r;
		return;
	}
	size_t min = 0;
	for (size_t i = 1; i < *n; i++)
		if (list[i].dur_ns < list[min].dur_ns)
			min = i;
	if (r->dur_ns <= list[min].dur_ns) {
		request_free(r);
		return;
	}
	request_free(&list[min]);
	list[min] = *r;
}

static void note_query(struct html *H, const struct glass_span *sp)
{
	size_t i = H->nqueries;
	if (i == MAX_SLOW_QUERIES) {
		size_t min = 0;
		for (size_t k = 1; k < i; k++)
			if (H->queries[k].dur_ns < H->queries[min].dur_ns)
				min = k;
		if (sp->dur_ns <= H->queries[min].dur_ns)
			return;
		free(H->queries[min].system);
		free(H->queries[min].stmt);
		free(H->queries[min].err);
		i = min;
	} else {
		H->nqueries++;
	}
	size_t sl, tl;
	const char *sys = glass_span_str(sp, "db.system", &sl);
	const char *st = glass_span_statement(sp, &tl);
	struct slowq *q = &H->queries[i];
	q->system = dupn(sys, sl);
	q->stmt = dupn(st, tl);
	q->start_ns = sp->start_ns;
	q->dur_ns = sp->dur_ns;
	q->rows =
	    attr_i(sp, "db.response.returned_rows", attr_i(sp, "db.response.affected_rows", -1));
	q->error = sp->status == GLASS_SPAN_ERROR;
	q->err = q->error && sp->err_msg.p ? dupn(sp->err_msg.p, sp->err_msg.len) : NULL;
}

/* A span under a trace's root, kept until the root ends. */
static void buffer_span(struct html *H, struct pending *p, const struct glass_span *sp,
			const char *label, int err)
{
	if (H->buffered >= MAX_BUFFERED) {
		H->dropped_trees++;
		pending_drop(H, p);
		return;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct wspan *w = realloc(p->spans, cap * sizeof(*w));
		if (!w) {
			H->oom = 1;
			return;
		}
		p->spans = w;
		p->cap = cap;
	}
	struct wspan *w = &p->spans[p->n++];
	H->buffered++;
	w->label = dups(label);
	w->start_ns = sp->start_ns;
	w->dur_ns = sp->dur_ns;
	w->depth = sp->depth;
	w->kind = (uint8_t)sp->kind;
	w->status = (uint8_t)sp->status;
	w->err = err && sp->err_type.p ? dupn(sp->err_type.p, sp->err_type.len) : NULL;
	w->note = span_note(sp);
}

/* A served request ended: kept, with its trace's spans, among the slowest or failed ones. */
static void end_request(struct html *H, struct pending *p, const struct glass_span *sp,
			const char *label, int err)
{
	H->requests++;
	struct request r = {0};
	r.label = dups(label);
	r.start_ns = sp->start_ns;
	r.dur_ns = sp->dur_ns;
	r.status_code = attr_i(sp, "http.response.status_code", 0);
	r.error = err || r.status_code >= 500;
	r.pid = sp->pid;
	r.tid = sp->tid;
	snprintf(r.trace, sizeof(r.trace), "%016llx%016llx", (unsigned long long)sp->trace_hi,
		 (unsigned long long)sp->trace_lo);
	if (r.error)
		H->failed_seen++;
	int wanted =
	    r.error ? H->nfailed < MAX_REQUESTS : (H->nslow < MAX_REQUESTS || r.dur_ns > 0);
	if (p && wanted) {
		if (p->n > MAX_TREE_SPANS) { /* the longest ones */
			qsort(p->spans, p->n, sizeof(*p->spans), by_dur_desc);
			for (size_t i = MAX_TREE_SPANS; i < p->n; i++)
				wspan_free(&p->spans[i]);
			H->buffered -= p->n - MAX_TREE_SPANS;
			p->n = MAX_TREE_SPANS;
		}
		qsort(p->spans, p->n, sizeof(*p->spans), by_start);
		r.spans = p->spans;
		r.nspans = p->n;
		H->buffered -= p->n;
		p->spans = NULL;
		p->n = 0;
	}
	if (p)
		pending_drop(H, p);
	keep_request(H, &r);
}

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct html *H = ctx;
	char label[LABEL_MAX];
	charts_span(H->charts, sp);
	glass_span_label(sp, label, sizeof(label));
	H->spans++;
	if (sp->start_ns && (!H->first_ns || sp->start_ns < H->first_ns))
		H->first_ns = sp->start_ns;
	if (sp->start_ns + sp->dur_ns > H->last_ns)
		H->last_ns = sp->start_ns + sp->dur_ns;
	int err = sp->status == GLASS_SPAN_ERROR;
	glass_agg_span(&H->agg, sp);
	if (sp->kind == GLASS_KIND_DB)
		note_query(H, sp);

	/* request waterfalls: buffer the spans of each trace until its root ends */
	struct pending *p = pending_for(H, sp->trace_hi, sp->trace_lo, sp->parent_id != 0);
	if (sp->parent_id) {
		if (p)
			buffer_span(H, p, sp, label, err);
		return;
	}
	/* a root ended: its trace is complete on this thread */
	if (sp->kind == GLASS_KIND_HTTP_SERVER)
		end_request(H, p, sp, label, err);
	else if (p)
		pending_drop(H, p);
}

/* ---- the page -------------------------------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}"
    "header{background:#1d2330;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}"
    "header .sub{opacity:.75;font-size:13px;word-break:break-all}"
    "main{padding:16px 24px;max-width:1400px}"
    "section{background:#fff;border-radius:6px;box-shadow:0 1px 2px #0002;margin:0 0 18px;"
    "padding:12px 16px}h2{font-size:16px;margin:4px 0 10px}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px}.card{background:#eef1f6;border-radius:6px;"
    "padding:8px 14px;min-width:120px}.card strong{display:block;font-size:20px}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{padding:4px 8px;border-bottom:1px solid #e4e7ec;text-align:right;"
    "vertical-align:top}th{background:#f0f2f5;cursor:pointer;user-select:none;"
    "white-space:nowrap}th.sorted-asc::after{content:' \\25B2'}"
    "th.sorted-desc::after{content:' \\25BC'}"
    "td.l,th.l{text-align:left}td.code{font-family:ui-monospace,monospace;word-break:break-all;"
    "text-align:left}.err{color:#b42318;font-weight:600}.muted{color:#667085}"
    "details{border-bottom:1px solid #e4e7ec;padding:4px 0}summary{cursor:pointer}"
    ".wf{position:relative;margin:6px 0 8px;font-size:12px}"
    ".wf .r{position:relative;height:18px;white-space:nowrap}"
    ".wf .b{position:absolute;top:2px;height:14px;border-radius:2px;min-width:1px}"
    ".wf .t{position:absolute;left:0;top:1px;padding-left:4px;overflow:hidden;"
    "text-overflow:ellipsis;max-width:48%}"
    ".wf .area{position:absolute;left:50%;right:0;top:0;bottom:0}"
    ".k0{background:#6b8fd6}.k1{background:#e0a030}.k2{background:#3aa776}"
    ".k3{background:#9b6bd6}.k4{background:#8a8f99}.kerr{outline:2px solid #b42318}"
    "iframe{width:100%;height:420px;border:0}";

/* Sorting tables by a header click (numbers by their data-v, text otherwise). */
static const char script[] =
    "document.querySelectorAll('table.sortable').forEach(function(t){"
    "t.querySelectorAll('th').forEach(function(th,i){th.addEventListener('click',function(){"
    "var asc=!th.classList.contains('sorted-asc');"
    "t.querySelectorAll('th').forEach(function(h){h.classList.remove('sorted-asc','sorted-desc')});"
    "th.classList.add(asc?'sorted-asc':'sorted-desc');"
    "var b=t.tBodies[0],rows=Array.prototype.slice.call(b.rows);"
    "rows.sort(function(x,y){var a=x.cells[i],c=y.cells[i];"
    "var va=a.dataset.v,vc=c.dataset.v;var r;"
    "if(va!==undefined&&vc!==undefined)r=parseFloat(va)-parseFloat(vc);"
    "else r=a.textContent.localeCompare(c.textContent);return asc?r:-r});"
    "rows.forEach(function(r){b.appendChild(r)})})})});";

static void cell_dur(struct glass_buf *b, uint64_t ns)
{
	glass_buf_printf(b, "<td data-v=\"%llu\">", (unsigned long long)ns);
	html_dur(b, ns);
	glass_buf_puts(b, "</td>");
}

static void cell_num(struct glass_buf *b, uint64_t n)
{
	char t[32];
	glass_fmt_count(t, sizeof(t), n);
	glass_buf_printf(b, "<td data-v=\"%llu\">%s</td>", (unsigned long long)n, t);
}

static void section_endpoints(struct glass_buf *b, struct html *H, uint64_t wall)
{
	struct glass_agg_rank *r;
	struct glass_agg_table *t = &H->agg.endpoints;
	size_t n = glass_agg_by_total(t->ft, &r);
	glass_buf_puts(b, "<section id=\"endpoints\"><h2>HTTP endpoints</h2>");
	if (!n) {
		glass_buf_puts(b, "<p class=\"muted\">No HTTP requests were served in this "
				  "recording.</p></section>");
		free(r);
		return;
	}
	glass_buf_puts(b, "<table class=\"sortable\"><thead><tr><th class=\"l\">endpoint</th>"
			  "<th>requests</th><th>req/s</th><th>p50</th><th>p90</th><th>p99</th>"
			  "<th>max</th><th>2xx</th><th>3xx</th><th>4xx</th><th>5xx</th>"
			  "<th>error rate</th></tr></thead><tbody>");
	for (size_t k = 0; k < n; k++) {
		size_t kl;
		const char *key = glass_ftable_key(t->ft, r[k].i, &kl);
		const struct glass_fstats *f = glass_ftable_stats(t->ft, r[k].i);
		const struct glass_agg_op *e = &t->op[r[k].i];
		glass_buf_puts(b, "<tr><td class=\"l code\">");
		html_text(b, key, kl);
		glass_buf_puts(b, "</td>");
		cell_num(b, f->calls);
		double rps = wall ? (double)f->calls * 1e9 / (double)wall : 0;
		glass_buf_printf(b, "<td data-v=\"%.3f\">%.1f</td>", rps, rps);
		cell_dur(b, glass_fstats_quantile(f, 0.50));
		cell_dur(b, glass_fstats_quantile(f, 0.90));
		cell_dur(b, glass_fstats_quantile(f, 0.99));
		cell_dur(b, f->max_ns);
		for (int c = 2; c <= 5; c++)
			cell_num(b, e->status[c]);
		double er = f->calls ? 100.0 * (double)f->errors / (double)f->calls : 0;
		glass_buf_printf(b, "<td data-v=\"%.4f\"%s>%.1f%%</td></tr>", er,
				 er > 0 ? " class=\"err\"" : "", er);
	}
	glass_buf_puts(b, "</tbody></table></section>");
	free(r);
}

static const char *const kind_names[] = {"function", "db", "http_server", "http_client", "net"};

static void waterfall(struct glass_buf *b, const struct request *r)
{
	uint64_t span = r->dur_ns ? r->dur_ns : 1;
	glass_buf_puts(b, "<div class=\"wf\">");
	/* the request itself, then its spans by start time */
	for (size_t i = 0; i <= r->nspans; i++) {
		const char *label = i ? r->spans[i - 1].label : r->label;
		uint64_t st = i ? r->spans[i - 1].start_ns : r->start_ns;
		uint64_t du = i ? r->spans[i - 1].dur_ns : r->dur_ns;
		unsigned depth = i ? r->spans[i - 1].depth : 0;
		unsigned kind = i ? r->spans[i - 1].kind : GLASS_KIND_HTTP_SERVER;
		int bad = i ? r->spans[i - 1].status == GLASS_SPAN_ERROR : r->error;
		double left =
		    st > r->start_ns ? 100.0 * (double)(st - r->start_ns) / (double)span : 0;
		double width = 100.0 * (double)du / (double)span;
		if (left > 100)
			left = 100;
		if (left + width > 100)
			width = 100 - left;
		glass_buf_printf(b,
				 "<div class=\"r\" data-kind=\"%s\"><span class=\"t\" "
				 "style=\"padding-left:%upx\">",
				 kind_names[kind < 5 ? kind : 0],
				 4 + 10 * (depth > 30 ? 30 : depth));
		html_cstr(b, label);
		glass_buf_puts(b, " <span class=\"muted\">");
		html_dur(b, du);
		glass_buf_puts(b, "</span>");
		if (i && r->spans[i - 1].err) {
			glass_buf_puts(b, " <span class=\"err\">");
			html_cstr(b, r->spans[i - 1].err);
			glass_buf_puts(b, "</span>");
		}
		if (i && r->spans[i - 1].note) {
			glass_buf_puts(b, " <span class=\"muted note\">");
			html_cstr(b, r->spans[i - 1].note);
			glass_buf_puts(b, "</span>");
		}
		glass_buf_printf(b,
				 "</span><span class=\"area\"><span class=\"b k%u%s\" "
				 "style=\"left:%.3f%%;width:%.3f%%\"></span></span></div>",
				 kind < 5 ? kind : 0, bad ? " kerr" : "", left, width);
	}
	glass_buf_puts(b, "</div>");
}

static int req_by_dur(const void *a, const void *b)
{
	const struct request *x = a, *y = b;
	return x->dur_ns < y->dur_ns ? 1 : x->dur_ns > y->dur_ns ? -1 : 0;
}

static void request_list(struct glass_buf *b, struct request *list, size_t n)
{
	qsort(list, n, sizeof(*list), req_by_dur);
	for (size_t i = 0; i < n; i++) {
		struct request *r = &list[i];
		char when[64];
		glass_fmt_time(when, sizeof(when), r->start_ns, 1, 0);
		/* the first one of each list open: the page shows a timeline at once */
		glass_buf_printf(b, "<details class=\"request\"%s><summary><span class=\"code\">",
				 i == 0 ? " open" : "");
		html_cstr(b, r->label);
		glass_buf_printf(b, "</span> — %s", r->error ? "<span class=\"err\">" : "<span>");
		glass_buf_printf(b, "%lld</span> — ", (long long)r->status_code);
		html_dur(b, r->dur_ns);
		glass_buf_printf(b,
				 " <span class=\"muted\">at %s, pid %u, tid %u, %zu spans, trace "
				 "%s</span></summary>",
				 when, r->pid, r->tid, r->nspans, r->trace);
		waterfall(b, r);
		glass_buf_puts(b, "</details>");
	}
}

static void section_requests(struct glass_buf *b, struct html *H)
{
	glass_buf_puts(b, "<section id=\"requests\"><h2>Requests</h2>");
	if (!H->requests) {
		glass_buf_puts(b, "<p class=\"muted\">No HTTP requests.</p></section>");
		return;
	}
	glass_buf_printf(b,
			 "<p class=\"muted\">%llu requests, %llu failed. The slowest %zu and "
			 "the first %zu failed ones with the spans of their traces (click to "
			 "open the timeline).</p>",
			 (unsigned long long)H->requests, (unsigned long long)H->failed_seen,
			 H->nslow, H->nfailed);
	if (H->nfailed) {
		glass_buf_puts(b, "<h3>Failed</h3>");
		request_list(b, H->failed, H->nfailed);
	}
	glass_buf_puts(b, "<h3>Slowest</h3>");
	request_list(b, H->slow, H->nslow);
	glass_buf_puts(b, "</section>");
}

static int q_by_dur(const void *a, const void *b)
{
	const struct slowq *x = a, *y = b;
	return x->dur_ns < y->dur_ns ? 1 : x->dur_ns > y->dur_ns ? -1 : 0;
}

static void section_queries(struct glass_buf *b, struct html *H)
{
	struct glass_agg_rank *r;
	struct glass_ftable *ft = H->agg.statements.ft;
	size_t n = glass_agg_by_total(ft, &r);
	glass_buf_puts(b, "<section id=\"queries\"><h2>Queries</h2>");
	if (!n) {
		glass_buf_puts(b, "<p class=\"muted\">No database statements.</p></section>");
		free(r);
		return;
	}
	glass_buf_puts(b, "<h3>By total time</h3><table class=\"sortable\"><thead><tr>"
			  "<th class=\"l\">statement</th><th class=\"l\">system</th><th>count</th>"
			  "<th>total</th><th>p50</th><th>p99</th><th>max</th><th>errors</th></tr>"
			  "</thead><tbody>");
	for (size_t k = 0; k < n && k < 200; k++) {
		size_t kl;
		const char *key = glass_ftable_key(ft, r[k].i, &kl);
		const char *tab = memchr(key, '\t', kl);
		const char *stmt = tab ? tab + 1 : key;
		const struct glass_fstats *f = glass_ftable_stats(ft, r[k].i);
		glass_buf_puts(b, "<tr><td class=\"code\">");
		html_text(b, stmt, kl - (size_t)(stmt - key));
		glass_buf_puts(b, "</td><td class=\"l\">");
		html_text(b, key, tab ? (size_t)(tab - key) : 0);
		glass_buf_puts(b, "</td>");
		cell_num(b, f->calls);
		cell_dur(b, f->total_ns);
		cell_dur(b, glass_fstats_quantile(f, 0.50));
		cell_dur(b, glass_fstats_quantile(f, 0.99));
		cell_dur(b, f->max_ns);
		cell_num(b, f->errors);
		glass_buf_puts(b, "</tr>");
	}
	glass_buf_puts(b, "</tbody></table>");
	free(r);
	qsort(H->queries, H->nqueries, sizeof(*H->queries), q_by_dur);
	glass_buf_puts(b, "<h3>Slowest single statements</h3><table class=\"sortable\"><thead>"
			  "<tr><th class=\"l\">statement</th><th class=\"l\">system</th>"
			  "<th>duration</th><th>rows</th><th class=\"l\">error</th></tr></thead>"
			  "<tbody>");
	for (size_t i = 0; i < H->nqueries; i++) {
		struct slowq *q = &H->queries[i];
		glass_buf_puts(b, "<tr><td class=\"code\">");
		html_cstr(b, q->stmt);
		glass_buf_puts(b, "</td><td class=\"l\">");
		html_cstr(b, q->system);
		glass_buf_puts(b, "</td>");
		cell_dur(b, q->dur_ns);
		if (q->rows >= 0)
			cell_num(b, (uint64_t)q->rows);
		else
			glass_buf_puts(b, "<td data-v=\"-1\">-</td>");
		glass_buf_puts(b, "<td class=\"l err\">");
		html_cstr(b, q->err);
		glass_buf_puts(b, "</td></tr>");
	}
	glass_buf_puts(b, "</tbody></table></section>");
}

static void section_functions(struct glass_buf *b, struct html *H, size_t limit)
{
	struct glass_agg_rank *r;
	struct glass_agg *A = &H->agg;
	size_t n = glass_agg_by_total(A->functions, &r);
	glass_buf_puts(b, "<section id=\"functions\"><h2>Top functions</h2>");
	if (!n) {
		glass_buf_puts(b, "<p class=\"muted\">No traced calls.</p></section>");
		free(r);
		return;
	}
	glass_buf_puts(b,
		       "<table class=\"sortable\"><thead><tr><th class=\"l\">function</th>"
		       "<th>calls</th><th>total</th><th>self</th><th>mean</th><th>p50</th>"
		       "<th>p90</th><th>p99</th><th>max</th><th>errors</th></tr></thead><tbody>");
	for (size_t k = 0; k < n && k < limit; k++) {
		const struct glass_fstats *f = glass_ftable_stats(A->functions, r[k].i);
		const struct glass_code_def *d = A->fn[r[k].i].def;
		char name[1024];
		glass_agg_fn_name(A, r[k].i, name, sizeof(name));
		glass_buf_puts(b, "<tr><td class=\"code\"");
		if (d && *d->filename) { /* which of two functions of one name */
			glass_buf_puts(b, " title=\"");
			html_cstr(b, d->filename);
			glass_buf_printf(b, ":%u\"", d->line);
		}
		glass_buf_puts(b, ">");
		html_cstr(b, name);
		glass_buf_puts(b, "</td>");
		cell_num(b, f->calls);
		cell_dur(b, f->total_ns);
		cell_dur(b, f->self_ns);
		cell_dur(b, f->calls ? f->total_ns / f->calls : 0);
		cell_dur(b, glass_fstats_quantile(f, 0.50));
		cell_dur(b, glass_fstats_quantile(f, 0.90));
		cell_dur(b, glass_fstats_quantile(f, 0.99));
		cell_dur(b, f->max_ns);
		cell_num(b, f->errors);
		glass_buf_puts(b, "</tr>");
	}
	glass_buf_puts(b, "</tbody></table>");
	if (n > limit)
		glass_buf_printf(b, "<p class=\"muted\">… %zu more functions.</p>", n - limit);
	glass_buf_puts(b, "</section>");
	free(r);
}

static void section_threads(struct glass_buf *b, struct html *H)
{
	glass_buf_puts(b, "<section id=\"threads\"><h2>Threads</h2><table class=\"sortable\">"
			  "<thead><tr><th>pid</th><th>tid</th><th class=\"l\">thread</th>"
			  "<th>spans</th><th>busy (in traced code)</th><th>CPU time</th></tr>"
			  "</thead><tbody>");
	for (size_t i = 0; i < H->nthreads; i++) {
		struct thread_row *t = &H->threads[i];
		glass_buf_printf(b,
				 "<tr><td data-v=\"%u\">%u</td><td data-v=\"%u\">%u</td>"
				 "<td class=\"l\">",
				 t->pid, t->pid, t->tid, t->tid);
		html_cstr(b, t->name ? t->name : "");
		glass_buf_puts(b, "</td>");
		cell_num(b, t->spans);
		cell_dur(b, t->busy_ns);
		if (t->cpu_ns)
			cell_dur(b, t->cpu_ns);
		else
			glass_buf_puts(b, "<td data-v=\"0\" class=\"muted\">not recorded</td>");
		glass_buf_puts(b, "</tr>");
	}
	glass_buf_puts(b, "</tbody></table></section>");
}

static int section_flame(struct glass_buf *b, struct glass_session *s)
{
	struct flame_opts o = {0};
	o.value = FLAME_WALL;
	o.until_ns = UINT64_MAX;
	struct flame *F = flame_collect(s, &o, NULL);
	glass_buf_puts(b, "<section id=\"flame\"><h2>Flame graph</h2>");
	if (!F || !flame_total(F)) {
		glass_buf_puts(b, "<p class=\"muted\">Nothing to draw.</p></section>");
		flame_free(F);
		return 0;
	}
	char *svg = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&svg, &len);
	if (!m) {
		flame_free(F);
		return -1;
	}
	struct flame_svg_opts so = {"Flame graph (wall time)", NULL, 1180, 0.1};
	int rc = flame_write_svg(m, F, &so);
	fclose(m);
	flame_free(F);
	if (rc == 0) {
		/* the SVG is a document of its own: its script runs in the frame, not the page */
		glass_buf_puts(b,
			       "<iframe title=\"flame graph\" sandbox=\"allow-scripts\" srcdoc=\"");
		html_text(b, svg, len);
		glass_buf_puts(b, "\"></iframe>");
	}
	free(svg);
	glass_buf_puts(b, "</section>");
	return rc;
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report html [SESSION] [-o FILE] [--functions N] [--no-flame] "
	    "[--strict]\n"
	    "\n"
	    "Writes the recording as one self-contained HTML page (no network fetches): run\n"
	    "overview (duration, processes, threads, events, lost events), HTTP endpoints\n"
	    "(requests, req/s, p50/p90/p99, status classes, error rate; click a header to sort),\n"
	    "the slowest and failed requests with a timeline of their Python, database and\n"
	    "network spans, queries by total time and the slowest single statements, top\n"
	    "functions, the flame graph, and per-thread busy and CPU time. Every text from the\n"
	    "recording is HTML-escaped.\n"
	    "\n"
	    "  -o, --output FILE   where to write (default report.html; - for standard output)\n"
	    "      --functions N   rows of the function table (default 100)\n"
	    "      --no-flame      leave the flame graph out (a second pass over the data)\n"
	    "      --strict        exit with status 3 when the session was read with warnings\n"
	    "  -h, --help          this text\n"
	    "\n%s",
	    report_exit_help);
}

struct html_opts {
	size_t limit; /* --functions */
	int flame;    /* not --no-flame */
};

static int html_option(void *ctx, int c, const char *arg)
{
	struct html_opts *o = ctx;
	if (c == 'N') {
		o->flame = 0;
		return 0;
	}
	char *end;
	long v = strtol(arg, &end, 10);
	if (*end || v <= 0) {
		report_error("--functions wants a number > 0, not '%s'", arg);
		return GLASS_EXIT_USAGE;
	}
	o->limit = (size_t)v;
	return 0;
}

/* A thread's row of the threads table, and its share of the run's totals. */
static void add_thread(struct html *H, const struct glass_proc_info *in, struct glass_spans *b)
{
	const struct glass_span_counts *cnt = glass_spans_counts(b);
	if (H->nthreads == H->capthreads) {
		size_t cap = H->capthreads ? H->capthreads * 2 : 16;
		struct thread_row *t = realloc(H->threads, cap * sizeof(*t));
		if (t) {
			H->threads = t;
			H->capthreads = cap;
		}
	}
	if (H->nthreads < H->capthreads) {
		struct thread_row *t = &H->threads[H->nthreads++];
		t->pid = in->pid;
		t->tid = glass_spans_tid(b);
		t->name = dups(glass_spans_thread_name(b));
		t->spans = cnt->spans;
		t->busy_ns = cnt->busy_ns;
		t->cpu_ns = cnt->cpu_ns;
	}
	H->events += cnt->records;
	if (cnt->first_ns && (!H->first_ns || cnt->first_ns < H->first_ns))
		H->first_ns = cnt->first_ns;
	if (cnt->last_ns > H->last_ns)
		H->last_ns = cnt->last_ns;
}

/* One pass over every thread of the session. */
static void gather(struct html *H, struct glass_session *s)
{
	struct glass_progress *pg = report_progress(s, "html");
	for (size_t pi = 0; pi < glass_session_nprocs(s); pi++) {
		struct glass_proc *p = glass_session_proc(s, pi);
		const struct glass_proc_info *in = glass_proc_info(p);
		uint64_t lost_records = 0;
		glass_agg_process(&H->agg, p);
		const uint32_t *tidx;
		size_t n = glass_proc_threads(p, &tidx);
		for (size_t ti = 0; ti < n; ti++) {
			struct glass_spans *b = NULL;
			if (report_run_thread(p, tidx[ti], glass_span_ids_for(s, pi, ti), NULL,
					      on_span, H, &b, pg) < 0)
				continue;
			charts_thread_end(H->charts);
			/* traces that never ended on this thread */
			while (H->npend)
				pending_drop(H, &H->pend[H->npend - 1]);
			add_thread(H, in, b);
			lost_records += glass_spans_counts(b)->lost_records;
			glass_spans_free(b);
		}
		H->lost += in->lost_events > lost_records ? in->lost_events : lost_records;
	}
	glass_progress_end(pg);
}

/* The page's head and header: the first process's command line. */
static void page_head(struct glass_buf *b, struct glass_session *s)
{
	size_t nprocs = glass_session_nprocs(s);
	glass_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
			  "<meta name=\"viewport\" content=\"width=device-width\">"
			  "<meta name=\"referrer\" content=\"no-referrer\">"
			  "<title>glass report: ");
	if (nprocs && glass_proc_info(glass_session_proc(s, 0))->argc)
		html_cstr(b, glass_proc_info(glass_session_proc(s, 0))->argv[0]);
	glass_buf_printf(b, "</title><style>%s", css);
	charts_style(b);
	glass_buf_puts(b, "</style></head><body><header><h1>glass report</h1><div class=\"sub\">");
	html_cstr(b, glass_session_dir(s));
	if (nprocs) {
		const struct glass_proc_info *in = glass_proc_info(glass_session_proc(s, 0));
		glass_buf_puts(b, "<br>");
		for (uint32_t i = 0; i < in->argc; i++) {
			if (i)
				glass_buf_puts(b, " ");
			html_cstr(b, in->argv[i]);
		}
	}
	glass_buf_puts(b, "</div></header><main>");
}

static void section_overview(struct glass_buf *b, struct html *H, struct glass_session *s,
			     uint64_t wall)
{
	char t1[64], t2[64], t3[64], t4[64];
	glass_fmt_dur(t1, sizeof(t1), wall);
	glass_fmt_count(t2, sizeof(t2), H->events);
	glass_fmt_count(t3, sizeof(t3), H->lost);
	glass_fmt_time(t4, sizeof(t4), H->first_ns, 0, 1);
	glass_buf_printf(b,
			 "<section id=\"overview\"><h2>Run</h2><div class=\"cards\">"
			 "<div class=\"card\">duration<strong>%s</strong></div>"
			 "<div class=\"card\">processes<strong>%zu</strong></div>"
			 "<div class=\"card\">threads<strong>%zu</strong></div>"
			 "<div class=\"card\">events<strong>%s</strong></div>"
			 "<div class=\"card\">lost events<strong%s>%s</strong></div>"
			 "<div class=\"card\">HTTP requests<strong>%llu</strong></div>"
			 "<div class=\"card\">warnings<strong>%zu</strong></div></div>"
			 "<p class=\"muted\">from %s</p></section>",
			 t1, glass_session_nprocs(s), H->nthreads, t2,
			 H->lost ? " class=\"err\"" : "", t3, (unsigned long long)H->requests,
			 glass_session_nwarnings(s), t4);
}

/* The whole page into b; nonzero when the flame graph ran out of memory. */
static int write_page(struct glass_buf *b, struct html *H, struct glass_session *s, size_t limit,
		      int flame)
{
	uint64_t wall = H->last_ns > H->first_ns ? H->last_ns - H->first_ns : 0;
	page_head(b, s);
	section_overview(b, H, s, wall);
	if (H->charts)
		charts_section(b);
	section_endpoints(b, H, wall);
	section_requests(b, H);
	section_queries(b, H);
	section_functions(b, H, limit);
	int rc = flame ? section_flame(b, s) : 0;
	if (!rc) /* CPU samples and crashes (nothing when the session has neither) */
		rc = native_html(b, s, html_text);
	section_threads(b, H);
	glass_buf_printf(b, "</main><script>%s", script);
	if (H->charts && charts_script(b, H->charts, glass_session_dir(s)) < 0)
		H->oom = 1;
	glass_buf_puts(b, "</script></body></html>\n");
	return rc;
}

static void html_free(struct html *H)
{
	for (size_t i = 0; i < H->nslow; i++)
		request_free(&H->slow[i]);
	for (size_t i = 0; i < H->nfailed; i++)
		request_free(&H->failed[i]);
	for (size_t i = 0; i < H->nqueries; i++) {
		free(H->queries[i].system);
		free(H->queries[i].stmt);
		free(H->queries[i].err);
	}
	for (size_t i = 0; i < H->nthreads; i++)
		free(H->threads[i].name);
	free(H->threads);
	free(H->pend);
	charts_free(H->charts);
	glass_agg_free(&H->agg);
	free(H);
}

int command_html(int argc, char **argv)
{
	static const struct option opts[] = {{"functions", required_argument, NULL, 'F'},
					     {"no-flame", no_argument, NULL, 'N'},
					     {NULL, 0, NULL, 0}};
	struct html_opts o = {.limit = 100, .flame = 1};
	const struct report_cli cli = {.name = "html",
				       .usage = usage,
				       .output = 1,
				       .default_output = "report.html",
				       .longopts = opts,
				       .option = html_option,
				       .ctx = &o};
	struct report_args a;
	int status;
	struct glass_session *s = report_begin(&cli, argc, argv, &a, &status);
	if (!s)
		return status;
	struct html *H = calloc(1, sizeof(*H));
	if (!H || glass_agg_init(&H->agg) < 0) {
		free(H);
		report_error("out of memory");
		return report_quit(s, GLASS_EXIT_SESSION);
	}
	H->charts = charts_new();
	gather(H, s);
	struct glass_buf b = {0};
	int rc = write_page(&b, H, s, o.limit, o.flame);
	struct report_out out;
	if (report_out_open(&out, a.output)) {
		rc = GLASS_EXIT_OUTPUT;
	} else {
		if (b.oom || H->oom || H->agg.oom || rc)
			report_error("warning: out of memory; the report is incomplete");
		if (b.p)
			fwrite(b.p, 1, b.len, out.f);
		rc = report_out_close(&out, 0);
	}
	glass_buf_free(&b);
	html_free(H);
	return report_finish(&a, s, rc);
}
