/* tools/native.c — native stacks of a session resolved and spliced with the Python frames. */
#include "native.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/flame.h"
#include "analysis/spans.h"
#include "symbols/resolve.h"

enum rkind { K_NATIVE, K_EVAL, K_GLASS };

struct rframe {
	const char *label;
	const char *object; /* base name, or NULL */
	const void *objkey; /* identity of the object (interpreter detection) */
	const char *file;
	unsigned line;
	uint8_t kind;
	uint8_t line_done;
	uint8_t named; /* the function is known */
	struct glass_sym_file *sf;
	uint64_t vaddr;
};

struct obj {
	uint64_t base, start, end;
	struct glass_sym_file *f;
};

struct centry {
	uint64_t key; /* ip << 1 | exact; 0 empty */
	struct rframe *fr;
};

struct nproc {
	struct glass_proc *p;
	struct obj *objs;
	size_t nobjs;
	struct centry *tab;
	size_t tmask, tn;
	int sampled; /* the preload noted that it sampled this process */
	char **pylabel; /* by code id (sparse ids beyond the cap get none) */
	size_t npylabel;
};

struct glass_native {
	struct glass_session *s;
	struct glass_sym_resolver *r;
	struct nproc *procs;
	size_t nprocs;
	char **warnings;
	size_t nwarnings;
};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p) {
		fprintf(stderr, "glass-report: out of memory\n");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

static void on_warn(void *arg, const char *text)
{
	struct glass_native *n = arg;
	char **w = realloc(n->warnings, (n->nwarnings + 1) * sizeof(*w));
	if (!w)
		return;
	n->warnings = w;
	w[n->nwarnings++] = xstrdup(text);
}

size_t glass_native_nwarnings(const struct glass_native *n)
{
	return n->nwarnings;
}

const char *glass_native_warning(const struct glass_native *n, size_t i)
{
	return i < n->nwarnings ? n->warnings[i] : NULL;
}

static char *str_of(const struct glass_str *s)
{
	char *p = xmalloc((size_t)s->len + 1);
	if (s->p)
		memcpy(p, s->p, s->len);
	p[s->p ? s->len : 0] = 0;
	return p;
}

struct glass_native *glass_native_open(struct glass_session *s)
{
	struct glass_native *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->s = s;
	n->r = glass_sym_resolver_new(on_warn, n);
	const char *root = getenv("GLASS_SYMBOL_ROOT");
	if (root)
		glass_sym_resolver_set_root(n->r, root);
	n->nprocs = glass_session_nprocs(s);
	n->procs = calloc(n->nprocs ? n->nprocs : 1, sizeof(*n->procs));
	for (size_t i = 0; i < n->nprocs; i++) {
		struct nproc *np = &n->procs[i];
		np->p = glass_session_proc(s, i);
		size_t cur = 0, cap = 0;
		struct glass_record rec;
		while (glass_proc_meta_next(np->p, &cur, &rec) == 1) {
			if (rec.tag == GLASS_REC_NOTE && rec.s[1].p && rec.s[1].len >= 15 &&
			    !memcmp(rec.s[1].p, "CPU sampling at", 15))
				np->sampled = 1;
			if (rec.tag != GLASS_REC_OBJECT)
				continue;
			if (np->nobjs == cap) {
				cap = cap ? cap * 2 : 64;
				np->objs = realloc(np->objs, cap * sizeof(*np->objs));
				if (!np->objs)
					exit(1);
			}
			char *path = str_of(&rec.s[1]), *id = str_of(&rec.s[5]);
			np->objs[np->nobjs++] = (struct obj){rec.u[2], rec.u[3], rec.u[4],
							     glass_sym_file_get(n->r, path, id)};
			free(path);
			free(id);
		}
		np->tmask = 1023;
		np->tab = calloc(np->tmask + 1, sizeof(*np->tab));
	}
	return n;
}

void glass_native_close(struct glass_native *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nprocs; i++) {
		struct nproc *np = &n->procs[i];
		for (size_t k = 0; k <= np->tmask; k++) {
			if (np->tab[k].fr) {
				free((char *)np->tab[k].fr->label);
				free(np->tab[k].fr);
			}
		}
		free(np->tab);
		free(np->objs);
		for (size_t k = 0; k < np->npylabel; k++)
			free(np->pylabel[k]);
		free(np->pylabel);
	}
	free(n->procs);
	for (size_t i = 0; i < n->nwarnings; i++)
		free(n->warnings[i]);
	free(n->warnings);
	glass_sym_resolver_free(n->r);
	free(n);
}

static struct nproc *nproc_of(struct glass_native *n, const struct glass_proc *p)
{
	for (size_t i = 0; i < n->nprocs; i++)
		if (n->procs[i].p == p)
			return &n->procs[i];
	return NULL;
}

static const struct obj *obj_of(const struct nproc *np, uint64_t ip)
{
	for (size_t i = np->nobjs; i-- > 0;) /* the latest load first */
		if (ip >= np->objs[i].start && ip < np->objs[i].end)
			return &np->objs[i];
	return NULL;
}

static struct rframe *resolve(struct glass_native *n, struct nproc *np, uint64_t ip, int exact)
{
	uint64_t key = ip << 1 | (uint64_t)(exact != 0);
	if (!key)
		key = 2;
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 20) & np->tmask;
	for (; np->tab[i].key; i = (i + 1) & np->tmask)
		if (np->tab[i].key == key)
			return np->tab[i].fr;
	struct rframe *fr = calloc(1, sizeof(*fr));
	if (!fr)
		exit(1);
	const struct obj *o = obj_of(np, ip);
	char buf[1200];
	if (!o) {
		snprintf(buf, sizeof(buf), "0x%llx", (unsigned long long)ip);
	} else {
		/* a return address points after its call: look the call itself up */
		uint64_t vaddr = ip - o->base - (exact ? 0 : 1);
		struct glass_sym_frame sf;
		glass_sym_lookup(o->f, vaddr, 0, &sf);
		fr->object = glass_sym_file_name(o->f);
		fr->objkey = o->f;
		fr->sf = o->f;
		fr->vaddr = vaddr;
		fr->named = sf.function != NULL;
		if (sf.function) /* without a symbol version ("memcpy@@GLIBC_2.14") */
			snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(sf.function, "@"),
				 sf.function);
		else
			snprintf(buf, sizeof(buf), "%s+0x%llx", fr->object,
				 (unsigned long long)(ip - o->base));
		if (sf.function && !strcmp(sf.function, "_PyEval_EvalFrameDefault"))
			fr->kind = K_EVAL;
		else if (!strncmp(fr->object, "libglass", 8))
			fr->kind = K_GLASS;
	}
	fr->label = xstrdup(buf);
	np->tab[i] = (struct centry){key, fr};
	if (++np->tn * 2 > np->tmask + 1) {
		size_t nm = np->tmask * 2 + 1;
		struct centry *t = calloc(nm + 1, sizeof(*t));
		if (!t)
			exit(1);
		for (size_t k = 0; k <= np->tmask; k++) {
			if (!np->tab[k].key)
				continue;
			size_t j = (size_t)((np->tab[k].key * 0x9e3779b97f4a7c15ull) >> 20) & nm;
			while (t[j].key)
				j = (j + 1) & nm;
			t[j] = np->tab[k];
		}
		free(np->tab);
		np->tab = t;
		np->tmask = nm;
	}
	return fr;
}

static const char *py_label(struct nproc *np, uint32_t id)
{
	if (id < np->npylabel && np->pylabel[id])
		return np->pylabel[id];
	const struct glass_code_def *d = id ? glass_proc_code(np->p, id) : NULL;
	char buf[1024];
	if (d) {
		struct glass_span sp;
		memset(&sp, 0, sizeof(sp));
		sp.kind = GLASS_KIND_PYTHON;
		sp.code = d;
		sp.code_id = id;
		glass_span_label(&sp, buf, sizeof(buf));
	} else {
		snprintf(buf, sizeof(buf), "%s", id ? "<code>" : "<python>");
	}
	if (id >= 1u << 24)
		return id ? "<code>" : "<python>";
	if (id >= np->npylabel) {
		size_t nn = (size_t)id * 2 + 16;
		char **p = realloc(np->pylabel, nn * sizeof(*p));
		if (!p)
			exit(1);
		memset(p + np->npylabel, 0, (nn - np->npylabel) * sizeof(*p));
		np->pylabel = p;
		np->npylabel = nn;
	}
	np->pylabel[id] = xstrdup(buf);
	return np->pylabel[id];
}

size_t glass_native_mixed(struct glass_native *n, const struct native_event *e, int want_line,
			  struct native_mixed *out, size_t max)
{
	struct nproc *np = nproc_of(n, e->proc);
	const struct glass_str *ips = &e->rec->s[e->rec->tag == GLASS_REC_CRASH ? 4 : 1];
	if (!np || !ips->p)
		return 0;
	size_t nip = ips->len / 8;
	if (nip > 256)
		nip = 256;
	struct rframe *fr[256];
	for (size_t i = 0; i < nip; i++) {
		uint64_t ip;
		memcpy(&ip, ips->p + 8 * i, 8);
		fr[i] = resolve(n, np, ip, i == 0);
	}
	/* root first from here; the interpreter is the object of the evaluator */
	const void *interp = NULL;
	size_t ntraced = 0, first_py = SIZE_MAX, last_py = SIZE_MAX;
	for (size_t k = 0; k < nip; k++) {
		struct rframe *f = fr[nip - 1 - k];
		if (f->kind == K_EVAL) {
			interp = f->objkey;
			if (first_py == SIZE_MAX)
				first_py = k;
			last_py = k;
			/* glass's evaluator calls CPython's for a traced frame; an untraced one
			 * jumps there (no frame of ours): one glass frame right above an
			 * evaluator frame is one open span */
			if (k && fr[nip - k]->kind == K_GLASS)
				ntraced++;
		}
	}
	/* aligned at the innermost: the innermost traced frame is the innermost open span */
	long span = (long)e->nopen - (long)ntraced;
	size_t o = 0;
	for (size_t k = 0; k < nip && o < max; k++) {
		struct rframe *f = fr[nip - 1 - k];
		int traced_next = k && fr[nip - k]->kind == K_GLASS;
		if (f->kind == K_GLASS)
			continue;
		if (f->kind == K_EVAL) {
			struct native_mixed *m = &out[o++];
			memset(m, 0, sizeof(*m));
			m->python = 1;
			uint32_t id = 0;
			if (traced_next && span >= 0 && (size_t)span < e->nopen)
				id = e->open[span];
			if (traced_next)
				span++;
			m->label = py_label(np, id);
			const struct glass_code_def *d = id ? glass_proc_code(np->p, id) : NULL;
			if (d) {
				m->file = d->filename;
				m->line = d->line;
				m->module = d->module;
			}
			continue;
		}
		if (first_py != SIZE_MAX && k < first_py)
			continue; /* process and thread start-up above the first Python frame */
		if (interp && f->objkey == interp && (last_py == SIZE_MAX || k < last_py))
			continue; /* the interpreter's plumbing between Python frames */
		if (want_line && f->sf && !f->line_done) {
			struct glass_sym_frame sf;
			glass_sym_lookup(f->sf, f->vaddr, 1, &sf);
			f->file = sf.file;
			f->line = sf.line;
			f->line_done = 1;
		}
		struct native_mixed *m = &out[o++];
		memset(m, 0, sizeof(*m));
		m->label = f->label;
		m->object = f->object;
		m->file = f->file;
		m->line = f->line;
		m->unnamed = !f->named;
	}
	return o;
}

#define RECENT 16

uint64_t glass_native_walk(struct glass_native *n, int what,
			   void (*fn)(void *ctx, const struct native_event *e), void *ctx)
{
	uint64_t count = 0;
	uint32_t *open = NULL;
	uint64_t *open_ts = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < n->nprocs; i++) {
		struct glass_proc *p = n->procs[i].p;
		/* only processes that can hold such records: sampled ones, or ones that did not end
		 * cleanly (a crash); reading every stream again would double a report's time */
		int crashed = glass_proc_info(p)->state == GLASS_PROC_RUNNING;
		if (!((what & NATIVE_SAMPLES) && n->procs[i].sampled) &&
		    !((what & NATIVE_CRASHES) && crashed))
			continue;
		const uint32_t *tidx;
		size_t nt = glass_proc_threads(p, &tidx);
		for (size_t t = 0; t < nt; t++) {
			struct glass_stream *st = glass_stream_open(p, tidx[t]);
			if (!st)
				continue;
			size_t depth = 0;
			uint32_t recent[RECENT];
			uint64_t recent_ns[RECENT];
			size_t nrecent = 0;
			struct glass_record rec;
			while (glass_stream_next(st, &rec) == 1) {
				size_t want = depth;
				switch (rec.tag) {
				case GLASS_REC_CALL:
				case GLASS_REC_GEN_RESUME:
					want = depth + 1;
					break;
				case GLASS_REC_RETURN:
				case GLASS_REC_RAISE:
				case GLASS_REC_GEN_YIELD:
				case GLASS_REC_GEN_RETURN:
					if (depth) {
						depth--;
						uint32_t code = open[depth];
						if (code) {
							memmove(recent, recent + (nrecent == RECENT),
								(nrecent - (nrecent == RECENT)) * sizeof(*recent));
							memmove(recent_ns, recent_ns + (nrecent == RECENT),
								(nrecent - (nrecent == RECENT)) * sizeof(*recent_ns));
							if (nrecent < RECENT)
								nrecent++;
							recent[nrecent - 1] = code;
							recent_ns[nrecent - 1] =
							    rec.ts_ns > open_ts[depth] ? rec.ts_ns - open_ts[depth] : 0;
						}
					}
					continue;
				case GLASS_REC_CHUNK_START:
					want = (size_t)rec.u[1];
					break;
				case GLASS_REC_LOST:
					if (rec.u[2] < depth)
						depth = (size_t)rec.u[2];
					want = (size_t)rec.u[3];
					break;
				case GLASS_REC_SAMPLE:
				case GLASS_REC_CRASH: {
					struct native_event e = {p, tidx[t], &rec, open, depth,
								 recent, recent_ns, nrecent};
					fn(ctx, &e);
					count++;
					continue;
				}
				default:
					continue;
				}
				if (want > 1u << 20)
					want = 1u << 20;
				if (want > cap) {
					cap = want * 2 + 64;
					open = realloc(open, cap * sizeof(*open));
					open_ts = realloc(open_ts, cap * sizeof(*open_ts));
					if (!open || !open_ts)
						exit(1);
				}
				if (rec.tag == GLASS_REC_CALL || rec.tag == GLASS_REC_GEN_RESUME) {
					open[depth] = (uint32_t)rec.u[1];
					open_ts[depth] = rec.ts_ns;
					depth++;
				} else {
					while (depth < want) { /* frames whose calls were not seen */
						open[depth] = 0;
						open_ts[depth++] = rec.ts_ns;
					}
					depth = want;
				}
			}
			glass_stream_close(st);
		}
	}
	free(open);
	free(open_ts);
	return count;
}

const char *glass_native_signame(int sig, char *buf, size_t len)
{
	switch (sig) {
	case SIGSEGV:
		return "SIGSEGV";
	case SIGBUS:
		return "SIGBUS";
	case SIGILL:
		return "SIGILL";
	case SIGFPE:
		return "SIGFPE";
	case SIGABRT:
		return "SIGABRT";
	default:
		snprintf(buf, len, "signal %d", sig);
		return buf;
	}
}

/* ---- flame graph of the samples ------------------------------------------------------------- */

struct flame_ctx {
	struct glass_native *n;
	struct flame *F;
	const struct flame_opts *o;
	struct native_mixed m[260];
	struct flame_frame fr[262];
	char thread_label[64];
};

static void flame_event(void *ctx, const struct native_event *e)
{
	struct flame_ctx *c = ctx;
	if (e->rec->tag != GLASS_REC_SAMPLE)
		return;
	const struct glass_proc_info *pi = glass_proc_info(e->proc);
	if (c->o->has_pid && pi->pid != c->o->pid)
		return;
	if (c->o->thread) {
		char tid[16];
		snprintf(tid, sizeof(tid), "%u", glass_proc_thread_tid(e->proc, e->tidx));
		if (strcmp(tid, c->o->thread))
			return;
	}
	uint64_t ts = e->rec->ts_ns;
	if ((c->o->since_ns && ts < c->o->since_ns) ||
	    (c->o->until_ns && c->o->until_ns != UINT64_MAX && ts >= c->o->until_ns))
		return;
	size_t k = glass_native_mixed(c->n, e, 0, c->m, 256), nf = 0;
	if (c->o->per_thread) {
		snprintf(c->thread_label, sizeof(c->thread_label), "%u/%u", pi->pid,
			 glass_proc_thread_tid(e->proc, e->tidx));
		c->fr[nf++] = (struct flame_frame){c->thread_label, NULL, NULL, 0};
	}
	for (size_t i = 0; i < k; i++) {
		const struct native_mixed *m = &c->m[c->o->value == FLAME_SELF ? k - 1 - i : i];
		c->fr[nf++] = (struct flame_frame){m->label, m->python ? m->file : m->object,
						   m->module, m->python};
	}
	uint64_t period = e->rec->u[3] ? e->rec->u[3] : 1;
	flame_add_stack(c->F, c->fr, nf, period);
}

struct flame *native_flame_collect(struct glass_session *s, const struct flame_opts *o,
				   uint64_t *nsamples)
{
	struct glass_native *n = glass_native_open(s);
	if (!n)
		return NULL;
	struct flame_ctx *c = calloc(1, sizeof(*c));
	if (!c) {
		glass_native_close(n);
		return NULL;
	}
	c->n = n;
	c->o = o;
	c->F = flame_new(o->max_nodes);
	if (c->F)
		glass_native_walk(n, NATIVE_SAMPLES, flame_event, c);
	*nsamples = c->F ? flame_nodes(c->F) : 0;
	for (size_t i = 0; i < glass_native_nwarnings(n); i++)
		fprintf(stderr, "glass-report: warning: %s\n", glass_native_warning(n, i));
	struct flame *F = c->F;
	free(c);
	glass_native_close(n);
	return F;
}

/* ---- summary: crashed processes and the native table ---------------------------------------- */

struct nrow {
	char *key; /* "label\tobject" */
	uint64_t n;
};

struct sum_ctx {
	struct glass_native *n;
	struct nrow *rows;
	size_t mask, nrows;
	uint64_t samples;
	uint64_t missed;
	uint64_t period;
	int wall;
	char **crashes;
	size_t ncrashes;
	struct native_mixed m[260];
};

static void sum_add(struct sum_ctx *c, const char *label, const char *object)
{
	char key[1400];
	snprintf(key, sizeof(key), "%s\t%s", label, object ? object : "");
	uint64_t h = 1469598103934665603ull;
	for (const char *p = key; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	if (!c->rows || (c->nrows + 1) * 2 > c->mask + 1) {
		size_t nm = c->rows ? c->mask * 2 + 1 : 255;
		struct nrow *t = calloc(nm + 1, sizeof(*t));
		if (!t)
			exit(1);
		for (size_t i = 0; c->rows && i <= c->mask; i++) {
			if (!c->rows[i].key)
				continue;
			uint64_t g = 1469598103934665603ull;
			for (const char *p = c->rows[i].key; *p; p++)
				g = (g ^ (uint8_t)*p) * 1099511628211ull;
			size_t j = (size_t)g & nm;
			while (t[j].key)
				j = (j + 1) & nm;
			t[j] = c->rows[i];
		}
		free(c->rows);
		c->rows = t;
		c->mask = nm;
	}
	size_t i = (size_t)h & c->mask;
	for (; c->rows[i].key; i = (i + 1) & c->mask)
		if (!strcmp(c->rows[i].key, key)) {
			c->rows[i].n++;
			return;
		}
	c->rows[i].key = xstrdup(key);
	c->rows[i].n = 1;
	c->nrows++;
}

static void sum_event(void *ctx, const struct native_event *e)
{
	struct sum_ctx *c = ctx;
	size_t k = glass_native_mixed(c->n, e, 0, c->m, 256);
	if (e->rec->tag == GLASS_REC_SAMPLE) {
		c->samples++;
		c->missed += e->rec->u[2];
		c->period = e->rec->u[3];
		c->wall = (int)e->rec->u[4];
		/* self: the innermost C function (a sample inside Python code itself has none) */
		if (k && !c->m[k - 1].python && c->m[k - 1].unnamed && c->m[k - 1].object) {
			char l[600]; /* addresses without a symbol count together per object */
			snprintf(l, sizeof(l), "(no symbol) %s", c->m[k - 1].object);
			sum_add(c, l, c->m[k - 1].object);
		} else if (k && !c->m[k - 1].python) {
			sum_add(c, c->m[k - 1].label, c->m[k - 1].object);
		}
		else
			sum_add(c, "(Python code)", "");
		return;
	}
	char line[2400], sb[32];
	const struct glass_proc_info *pi = glass_proc_info(e->proc);
	const char *cfn = NULL, *cobj = NULL, *py = NULL;
	for (size_t i = k; i-- > 0;) {
		if (!c->m[i].python && !cfn) {
			cfn = c->m[i].label;
			cobj = c->m[i].object;
		}
		if (c->m[i].python && !py)
			py = c->m[i].label;
	}
	int n = snprintf(line, sizeof(line), "%s (pid %u) crashed: %s", pi->key, pi->pid,
			 glass_native_signame((int)e->rec->u[1], sb, sizeof(sb)));
	if ((int64_t)e->rec->u[2] > 0 && e->rec->u[1] != SIGABRT)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " at 0x%llx",
			      (unsigned long long)e->rec->u[3]);
	if (cfn)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " in %s%s%s%s", cfn,
			      cobj ? " (" : "", cobj ? cobj : "", cobj ? ")" : "");
	if (py)
		snprintf(line + n, sizeof(line) - (size_t)n, ", called from %s", py);
	char **cr = realloc(c->crashes, (c->ncrashes + 1) * sizeof(*cr));
	if (!cr)
		exit(1);
	c->crashes = cr;
	cr[c->ncrashes++] = xstrdup(line);
}

static int row_cmp(const void *a, const void *b)
{
	const struct nrow *x = a, *y = b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->key, y->key);
}

void native_summary(FILE *out, struct glass_session *s, size_t limit)
{
	struct sum_ctx c = {0};
	c.n = glass_native_open(s);
	if (!c.n)
		return;
	glass_native_walk(c.n, NATIVE_SAMPLES | NATIVE_CRASHES, sum_event, &c);
	if (c.ncrashes) {
		fprintf(out, "\ncrashes (glass-report crash shows the stacks)\n");
		for (size_t i = 0; i < c.ncrashes; i++) {
			fprintf(out, "  %s\n", c.crashes[i]);
			free(c.crashes[i]);
		}
	}
	free(c.crashes);
	if (c.samples) {
		size_t w = 0;
		for (size_t i = 0; i <= c.mask; i++)
			if (c.rows[i].key)
				c.rows[w++] = c.rows[i];
		qsort(c.rows, w, sizeof(*c.rows), row_cmp);
		fprintf(out, "\nnative: %llu %s samples at %.0f Hz, by the C function they were in",
			(unsigned long long)c.samples, c.wall ? "wall-clock" : "CPU",
			c.period ? 1e9 / (double)c.period : 0.0);
		if (c.missed) /* inside glass's writer, slow stacks, objects being unloaded */
			fprintf(out, " (%llu more not recorded)", (unsigned long long)c.missed);
		fprintf(out, "\n");
		fprintf(out, "%7s %9s  %-50s %s\n", "self%", "samples", "function", "object");
		for (size_t i = 0; i < w; i++) {
			if (!limit || i < limit) {
				char *tab = strchr(c.rows[i].key, '\t');
				*tab = 0;
				fprintf(out, "%6.1f%% %9llu  %-50s %s\n",
					100.0 * (double)c.rows[i].n / (double)c.samples,
					(unsigned long long)c.rows[i].n, c.rows[i].key, tab + 1);
			}
			free(c.rows[i].key);
		}
	}
	free(c.rows);
	for (size_t i = 0; i < glass_native_nwarnings(c.n); i++)
		fprintf(stderr, "glass-report: warning: %s\n", glass_native_warning(c.n, i));
	glass_native_close(c.n);
}
