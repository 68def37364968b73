/* tools/html-charts.c — the charts of the html dashboard (issue 14): requests/s, p50/p90/p99
 * and errors over time (all endpoints, and one endpoint chosen by a click), the latency
 * histogram, DB time per request, and CPU% and RSS per process over time.
 *
 * Drawn with uPlot (MIT, tools/vendor/uplot: the npm package's built files, inlined at build
 * time with its licence), so the page stays one file that works offline. Memory is bounded:
 * time bins of 100 ms that double in width whenever a series would pass MAX_BINS, at most
 * MAX_SERIES endpoints told apart (the rest "(other)"), a small map of open traces for the DB
 * time of requests.
 */
#include <stdlib.h>
#include <string.h>

#include "html-charts.h"
#include "analysis/resources.h"
#include "analysis/stats.h"
#include "analysis/text.h"
#include "tools/uplot-embed.h"

#define MAX_BINS	600
#define MAX_SERIES	30
#define OTHER		"(other)"
#define OPEN_TRACES	256
#define MAX_PROC_POINTS 1500

struct cell {
	struct glass_fstats f; /* requests ending in the bin: count, errors, durations */
	uint64_t db_ns;	       /* DB time inside them */
};

struct series {
	char *name;
	uint64_t lo; /* absolute bin index of cells[0] */
	struct cell *cells;
	size_t n;
};

struct open_trace {
	uint64_t hi, lo, db_ns;
	int used;
};

struct glass_charts {
	uint64_t width_ns;
	uint64_t glo, ghi;		 /* bins in use across the series (glo > ghi: none) */
	struct series s[MAX_SERIES + 2]; /* [0] all, then endpoints, last (other) */
	size_t ns;
	struct glass_fstats all; /* every request: the histogram */
	struct open_trace open[OPEN_TRACES];
	size_t open_next;
	int oom;
};

struct glass_charts *charts_new(void)
{
	struct glass_charts *C = calloc(1, sizeof(*C));
	if (!C)
		return NULL;
	C->width_ns = 100000000ull; /* 100 ms: a short run still has points to draw */
	C->glo = UINT64_MAX;
	C->s[0].name = strdup("all endpoints");
	C->ns = 1;
	return C;
}

static void series_free(struct series *s)
{
	for (size_t i = 0; i < s->n; i++)
		glass_fstats_free(&s->cells[i].f);
	free(s->cells);
	free(s->name);
}

void charts_free(struct glass_charts *C)
{
	if (!C)
		return;
	for (size_t i = 0; i < C->ns; i++)
		series_free(&C->s[i]);
	glass_fstats_free(&C->all);
	free(C);
}

/* Halves the resolution of one series: bin i goes to i / 2. */
static void series_halve(struct glass_charts *C, struct series *s)
{
	if (!s->n)
		return;
	uint64_t nlo = s->lo / 2, nhi = (s->lo + s->n - 1) / 2;
	size_t nn = (size_t)(nhi - nlo + 1);
	struct cell *c = calloc(nn, sizeof(*c));
	if (!c) {
		C->oom = 1;
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		struct cell *d = &c[(s->lo + i) / 2 - nlo];
		if (glass_fstats_merge(&d->f, &s->cells[i].f) < 0)
			C->oom = 1;
		d->db_ns += s->cells[i].db_ns;
		glass_fstats_free(&s->cells[i].f);
	}
	free(s->cells);
	s->cells = c;
	s->lo = nlo;
	s->n = nn;
}

static void range(const struct glass_charts *C, uint64_t *lo, uint64_t *hi)
{
	*lo = UINT64_MAX;
	*hi = 0;
	for (size_t i = 0; i < C->ns; i++) {
		const struct series *s = &C->s[i];
		if (!s->n)
			continue;
		if (s->lo < *lo)
			*lo = s->lo;
		if (s->lo + s->n - 1 > *hi)
			*hi = s->lo + s->n - 1;
	}
}

static struct cell *cell_at(struct glass_charts *C, struct series *s, uint64_t t_ns)
{
	for (;;) {
		uint64_t idx = t_ns / C->width_ns;
		uint64_t glo = C->glo, ghi = C->ghi;
		if (glo == UINT64_MAX)
			glo = ghi = idx;
		if (idx < glo)
			glo = idx;
		if (idx > ghi)
			ghi = idx;
		if (ghi - glo + 1 > MAX_BINS) {
			C->width_ns *= 2;
			for (size_t i = 0; i < C->ns; i++)
				series_halve(C, &C->s[i]);
			if (C->oom)
				return NULL;
			range(C, &C->glo, &C->ghi);
			continue;
		}
		C->glo = glo;
		C->ghi = ghi;
		if (!s->n) {
			if (!(s->cells = calloc(1, sizeof(*s->cells)))) {
				C->oom = 1;
				return NULL;
			}
			s->lo = idx;
			s->n = 1;
		} else if (idx < s->lo) {
			size_t add = (size_t)(s->lo - idx);
			struct cell *c = realloc(s->cells, (s->n + add) * sizeof(*c));
			if (!c) {
				C->oom = 1;
				return NULL;
			}
			memmove(c + add, c, s->n * sizeof(*c));
			memset(c, 0, add * sizeof(*c));
			s->cells = c;
			s->n += add;
			s->lo = idx;
		} else if (idx >= s->lo + s->n) {
			size_t nn = (size_t)(idx - s->lo + 1);
			struct cell *c = realloc(s->cells, nn * sizeof(*c));
			if (!c) {
				C->oom = 1;
				return NULL;
			}
			memset(c + s->n, 0, (nn - s->n) * sizeof(*c));
			s->cells = c;
			s->n = nn;
		}
		return &s->cells[idx - s->lo];
	}
}

static struct series *series_for(struct glass_charts *C, const char *key, size_t len)
{
	for (size_t i = 1; i < C->ns; i++)
		if (strlen(C->s[i].name) == len && !memcmp(C->s[i].name, key, len))
			return &C->s[i];
	if (C->ns > MAX_SERIES) {
		key = OTHER;
		len = strlen(OTHER);
		for (size_t i = 1; i < C->ns; i++)
			if (!strcmp(C->s[i].name, OTHER))
				return &C->s[i];
	}
	struct series *s = &C->s[C->ns];
	memset(s, 0, sizeof(*s));
	if (!(s->name = strndup(key, len))) {
		C->oom = 1;
		return NULL;
	}
	C->ns++;
	return s;
}

/* Open traces by hash (a few probes): a request's DB time sums its trace's DB spans. */
static struct open_trace *trace_slot(struct glass_charts *C, uint64_t hi, uint64_t lo, int add)
{
	size_t h = (size_t)((lo * 0x9e3779b97f4a7c15ull) ^ hi) % OPEN_TRACES;
	for (size_t k = 0; k < 8; k++) {
		struct open_trace *o = &C->open[(h + k) % OPEN_TRACES];
		if (o->used && o->hi == hi && o->lo == lo)
			return o;
	}
	if (!add)
		return NULL;
	struct open_trace *o = NULL;
	for (size_t k = 0; k < 8 && !o; k++)
		if (!C->open[(h + k) % OPEN_TRACES].used)
			o = &C->open[(h + k) % OPEN_TRACES];
	if (!o) /* full around here: the oldest of the probes goes (its DB time is lost) */
		o = &C->open[(h + (C->open_next++ % 8)) % OPEN_TRACES];
	o->hi = hi;
	o->lo = lo;
	o->db_ns = 0;
	o->used = 1;
	return o;
}

void charts_span(struct glass_charts *C, const struct glass_span *sp)
{
	if (!C)
		return;
	if (sp->kind == GLASS_KIND_DB) {
		struct open_trace *o = trace_slot(C, sp->trace_hi, sp->trace_lo, 1);
		o->db_ns += sp->dur_ns;
		return;
	}
	if (sp->kind != GLASS_KIND_HTTP_SERVER)
		return;
	struct open_trace *o = trace_slot(C, sp->trace_hi, sp->trace_lo, 0);
	uint64_t db = o ? o->db_ns : 0;
	if (o)
		o->used = 0;
	char key[GLASS_SPAN_KEY_MAX];
	size_t kl = glass_span_endpoint_key(sp, key, sizeof(key));
	int err = sp->status == GLASS_SPAN_ERROR;
	uint64_t end = sp->start_ns + sp->dur_ns;
	struct series *targets[2] = {&C->s[0], series_for(C, key, kl)};
	for (int k = 0; k < 2; k++) {
		if (!targets[k])
			continue;
		struct cell *c = cell_at(C, targets[k], end);
		if (!c)
			return;
		if (glass_fstats_add(&c->f, sp->dur_ns, sp->self_ns, err) < 0)
			C->oom = 1;
		c->db_ns += db;
	}
	if (glass_fstats_add(&C->all, sp->dur_ns, sp->self_ns, err) < 0)
		C->oom = 1;
}

void charts_thread_end(struct glass_charts *C)
{
	if (C)
		memset(C->open, 0, sizeof(C->open));
}

/* ---- output --------------------------------------------------------------------------------- */

static void num(struct glass_buf *b, double v, int first)
{
	glass_buf_printf(b, first ? "%.6g" : ",%.6g", v);
}

/* Unix seconds, to the millisecond (%g would round them to 6 digits). */
static void tnum(struct glass_buf *b, double v, int first)
{
	glass_buf_printf(b, first ? "%.3f" : ",%.3f", v);
}

/* JSON text safe inside <script>: '<', '>' and '&' only occur in strings, as \u escapes. */
static void script_safe(struct glass_buf *out, const struct glass_buf *json)
{
	for (size_t i = 0; i < json->len; i++) {
		char c = json->p[i];
		if (c == '<')
			glass_buf_puts(out, "\\u003c");
		else if (c == '>')
			glass_buf_puts(out, "\\u003e");
		else if (c == '&')
			glass_buf_puts(out, "\\u0026");
		else
			glass_buf_put(out, &c, 1);
	}
}

static void series_json(struct glass_buf *b, const struct glass_charts *C, const struct series *s,
			uint64_t glo, uint64_t ghi)
{
	double w = (double)C->width_ns / 1e9;
	glass_buf_puts(b, "{\"name\":");
	glass_json_str(b, s->name, strlen(s->name));
	static const char *const keys[] = {"rps", "p50", "p90", "p99", "err", "req_ms", "db_ms"};
	for (int k = 0; k < 7; k++) {
		glass_buf_printf(b, ",\"%s\":[", keys[k]);
		for (uint64_t i = glo; i <= ghi; i++) {
			const struct cell *c =
			    i >= s->lo && i < s->lo + s->n ? &s->cells[i - s->lo] : NULL;
			uint64_t n = c ? c->f.calls : 0;
			if (i > glo)
				glass_buf_put(b, ",", 1);
			if ((k >= 1 && k <= 3) || k >= 5) {
				if (!n) {
					glass_buf_puts(b, "null");
					continue;
				}
			}
			double v = 0;
			switch (k) {
			case 0:
				v = (double)n / w;
				break;
			case 1:
			case 2:
			case 3:
				v = (double)glass_fstats_quantile(&c->f, k == 1	  ? 0.5
									 : k == 2 ? 0.9
										  : 0.99) /
				    1e6;
				break;
			case 4:
				v = c ? (double)c->f.errors : 0;
				break;
			case 5:
				v = (double)c->f.total_ns / (double)n / 1e6;
				break;
			case 6:
				v = (double)c->db_ns / (double)n / 1e6;
				break;
			}
			num(b, v, 1);
		}
		glass_buf_put(b, "]", 1);
	}
	glass_buf_put(b, "}", 1);
}

void charts_section(struct glass_buf *b)
{
	glass_buf_puts(b, "<section id=\"charts\"><h2>Over time</h2>"
			  "<div id=\"chart-pick\" class=\"pick\"></div>"
			  "<div id=\"chart-rps\" class=\"chart\"></div>"
			  "<div id=\"chart-lat\" class=\"chart\"></div>"
			  "<div id=\"chart-err\" class=\"chart\"></div>"
			  "<div id=\"chart-db\" class=\"chart\"></div>"
			  "<div id=\"chart-hist\" class=\"chart\"></div>"
			  "<div id=\"chart-cpu\" class=\"chart\"></div>"
			  "<div id=\"chart-rss\" class=\"chart\"></div>"
			  "<p id=\"chart-none\" class=\"muted\" hidden>No HTTP requests and no "
			  "resource samples in this recording: nothing to chart.</p></section>");
}

void charts_style(struct glass_buf *b)
{
	glass_buf_puts(b, uplot_css);
	glass_buf_puts(b, ".chart{margin:8px 0 14px}.pick{display:flex;flex-wrap:wrap;gap:6px;"
			  "margin:0 0 8px}.pick button{font:12px system-ui,sans-serif;border:1px "
			  "solid #c8ccd4;background:#fff;border-radius:4px;padding:3px 8px;"
			  "cursor:pointer}.pick button.on{background:#1d2330;color:#fff}");
}

/* The chart code (runs after uPlot's): reads GLASS_CHARTS, draws, switches endpoints. */
static const char chart_js[] =
    "(function(){var D=GLASS_CHARTS;function $(i){return document.getElementById(i)}"
    "var W=Math.max(480,Math.min(1340,($('charts').clientWidth||1200)-36));"
    "var made={};var pal=['#3467c4','#e0a030','#b42318','#3aa776','#9b6bd6','#8a8f99',"
    "'#d6336c','#1098ad'];"
    "function draw(id,title,x,ys,names,units,o){o=o||{};var "
    "el=$(id);if(made[id]){made[id].destroy()}"
    "el.innerHTML='';var ser=[{label:o.xlabel||'time',value:o.xval||function(u,v){return "
    "v==null?'-':"
    "new Date(v*1000).toLocaleTimeString()}}];"
    "names.forEach(function(n,i){var s={label:n,stroke:pal[i%pal.length],width:1.5,"
    "spanGaps:false,value:function(u,v){return v==null?'-':(+v.toPrecision(4))+' '+units}};"
    "if(o.bars){s.paths=uPlot.paths.bars({size:[0.9,40]});s.fill=pal[i%pal.length]+'99'}"
    "if(o.points){s.points={show:true,size:6}}ser.push(s)});"
    "var opts={title:title,width:W,height:o.h||220,series:ser,"
    "scales:{x:o.log?{time:false,distr:3}:{time:!o.notime,range:function(u,a,b){"
    "return a==b?[a-1,b+1]:[a,b]}}},axes:[{},{label:units,size:60}],legend:"
    "{live:true}};"
    "made[id]=new uPlot(opts,[x].concat(ys),el);el.dataset.drawn=String(x.length);}"
    "function endpoint(i){var s=D.series[i];var x=D.t;var one=x.length<2;"
    "draw('chart-rps','Requests per second: "
    "'+s.name,x,[s.rps],['requests/s'],'req/s',{points:one});"
    "draw('chart-lat','Latency: "
    "'+s.name,x,[s.p50,s.p90,s.p99],['p50','p90','p99'],'ms',{points:one});"
    "draw('chart-err','Errors per '+D.width_s+' s: '+s.name,x,[s.err],['errors'],'',{points:one});"
    "draw('chart-db','Time per request, and its DB time: '+s.name,x,[s.req_ms,s.db_ms],"
    "['request (mean)','DB (mean)'],'ms',{points:one});"
    "var bs=$('chart-pick').querySelectorAll('button');for(var k=0;k<bs.length;k++)"
    "bs[k].classList.toggle('on',+bs[k].dataset.i===i)}"
    "if(D.series.length&&D.t.length){var p=$('chart-pick');"
    "D.series.forEach(function(s,i){var b=document.createElement('button');b.textContent=s.name;"
    "b.dataset.i=i;b.addEventListener('click',function(){endpoint(i)});p.appendChild(b)});"
    "endpoint(0);"
    "if(D.hist.x.length){draw('chart-hist','Latency histogram (all requests)',D.hist.x,[D.hist.y],"
    "['requests'],'',{bars:true,notime:true,log:true,xlabel:'ms',xval:function(u,v){return "
    "v==null?'-':"
    "v+' ms'}})}}"
    "var P=D.procs;if(P.length){var "
    "ts={};P.forEach(function(p){p.t.forEach(function(v){ts[v]=1})});"
    "var x=Object.keys(ts).map(Number).sort(function(a,b){return a-b});"
    "function col(k){return P.map(function(p){var m={};p.t.forEach(function(v,i){m[v]=p[k][i]});"
    "return x.map(function(v){return v in m?m[v]:null})})}"
    "var names=P.map(function(p){return p.name});"
    "draw('chart-cpu','CPU per process (share of one "
    "core)',x,col('cpu'),names,'%',{points:x.length<2});"
    "draw('chart-rss','Resident memory per process',x,col('rss'),names,'MiB',{points:x.length<2})}"
    "else{['chart-cpu','chart-rss'].forEach(function(id){$(id).textContent='No CPU or memory "
    "samples: every process ended before the session helper sampled it (every 100 ms).'})}"
    "if(!(D.series.length&&D.t.length)&&!P.length)$('chart-none').hidden=false;})();";

int charts_script(struct glass_buf *out, struct glass_charts *C, const char *session_dir)
{
	struct glass_buf b = {0};
	uint64_t glo, ghi;
	range(C, &glo, &ghi);
	double w = (double)C->width_ns / 1e9;
	glass_buf_printf(&b, "{\"width_s\":%g,\"t\":[", w);
	int have = glo != UINT64_MAX && C->all.calls;
	for (uint64_t i = glo; have && i <= ghi; i++)
		tnum(&b, (double)i * w, i == glo);
	glass_buf_puts(&b, "],\"series\":[");
	for (size_t i = 0; have && i < C->ns; i++) {
		if (i)
			glass_buf_put(&b, ",", 1);
		series_json(&b, C, &C->s[i], glo, ghi);
	}
	/* the histogram: four bins per power of two (the log-linear buckets, merged by 4) */
	glass_buf_puts(&b, "],\"hist\":{\"x\":[");
	struct glass_buf y = {0};
	const struct glass_hist *h = &C->all.hist;
	int first = 1;
	if (h->counts) {
		for (unsigned o = h->lo; o <= h->hi; o++)
			for (unsigned q = 0; q < GLASS_HIST_SUB; q += 4) {
				uint64_t n = 0;
				for (unsigned r = q; r < q + 4; r++)
					n += h->counts[(o - h->lo) * GLASS_HIST_SUB + r];
				unsigned bucket = o * GLASS_HIST_SUB + q;
				num(&b, (double)glass_hist_bucket_low(bucket) / 1e6, first);
				num(&y, (double)n, first);
				first = 0;
			}
	}
	glass_buf_puts(&b, "],\"y\":[");
	if (y.p)
		glass_buf_put(&b, y.p, y.len);
	glass_buf_free(&y);
	glass_buf_puts(&b, "]},\"procs\":[");
	struct glass_resources r;
	if (glass_resources_load(session_dir, &r) == 0) {
		for (size_t pi = 0; pi < r.nproc; pi++) {
			const struct glass_res_proc *p = &r.proc[pi];
			size_t step = (p->n + MAX_PROC_POINTS - 1) / MAX_PROC_POINTS;
			if (!step)
				step = 1;
			struct glass_buf t = {0}, cpu = {0}, rss = {0};
			int f = 1;
			for (size_t k = 0; k < p->n; k += step) {
				/* a point per `step` samples: CPU over them, the largest RSS */
				size_t e = k + step < p->n ? k + step : p->n;
				const struct glass_res_sample *a = &r.s[p->first + (k ? k - 1 : 0)],
							      *z = &r.s[p->first + e - 1];
				uint64_t peak = 0;
				for (size_t j = k; j < e; j++)
					if (r.s[p->first + j].rss > peak)
						peak = r.s[p->first + j].rss;
				double c = 0;
				if (z->unix_ns > a->unix_ns &&
				    z->user_ns + z->sys_ns >= a->user_ns + a->sys_ns)
					c = 100.0 *
					    (double)(z->user_ns + z->sys_ns - a->user_ns -
						     a->sys_ns) /
					    (double)(z->unix_ns - a->unix_ns);
				tnum(&t, (double)(z->unix_ns / 1000000) / 1e3, f);
				num(&cpu, c, f);
				num(&rss, (double)peak / (1 << 20), f);
				f = 0;
			}
			glass_buf_printf(&b, "%s{\"name\":\"%s\",\"t\":[", pi ? "," : "", p->key);
			if (t.p)
				glass_buf_put(&b, t.p, t.len);
			glass_buf_puts(&b, "],\"cpu\":[");
			if (cpu.p)
				glass_buf_put(&b, cpu.p, cpu.len);
			glass_buf_puts(&b, "],\"rss\":[");
			if (rss.p)
				glass_buf_put(&b, rss.p, rss.len);
			glass_buf_puts(&b, "]}");
			glass_buf_free(&t);
			glass_buf_free(&cpu);
			glass_buf_free(&rss);
		}
		glass_resources_free(&r);
	}
	glass_buf_puts(&b, "]}");
	int oom = b.oom || C->oom;
	glass_buf_puts(out, "\n/*! uPlot " UPLOT_VERSION " | ");
	glass_buf_puts(out, uplot_license);
	glass_buf_puts(out, " */\n");
	glass_buf_puts(out, uplot_js);
	glass_buf_puts(out, "\nvar GLASS_CHARTS=");
	script_safe(out, &b);
	glass_buf_puts(out, ";\n");
	glass_buf_puts(out, chart_js);
	glass_buf_free(&b);
	return oom ? -1 : 0;
}
