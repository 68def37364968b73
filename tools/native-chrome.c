/* tools/native-chrome.c — `glass-report chrome`'s CPU samples: the trace format's stackFrames
 * (a tree of mixed-stack frames) and samples (one per SAMPLE record, its leaf frame). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"
#include "analysis/text.h"

struct snode {
	uint64_t parent; /* 0: root */
	const char *label; /* interned by tools/native.c (stable) */
	uint64_t id;
};

struct nch {
	struct glass_native *n;
	struct glass_buf frames, samples;
	struct snode *tab;
	size_t mask, count;
	uint64_t base_ns, nsamples;
	struct native_mixed m[260];
};

static uint64_t node_hash(uint64_t parent, const char *label)
{
	uint64_t h = parent * 0x9e3779b97f4a7c15ull ^ 1469598103934665603ull;
	for (const char *p = label; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h;
}

static uint64_t node_of(struct nch *c, uint64_t parent, const struct native_mixed *m)
{
	const char *label = m->label ? m->label : "?";
	if (!c->tab || (c->count + 1) * 2 > c->mask + 1) {
		size_t nm = c->tab ? c->mask * 2 + 1 : 4095;
		struct snode *t = calloc(nm + 1, sizeof(*t));
		if (!t)
			exit(1);
		for (size_t i = 0; c->tab && i <= c->mask; i++) {
			if (!c->tab[i].id)
				continue;
			size_t j = (size_t)node_hash(c->tab[i].parent, c->tab[i].label) & nm;
			while (t[j].id)
				j = (j + 1) & nm;
			t[j] = c->tab[i];
		}
		free(c->tab);
		c->tab = t;
		c->mask = nm;
	}
	size_t i = (size_t)node_hash(parent, label) & c->mask;
	for (; c->tab[i].id; i = (i + 1) & c->mask)
		if (c->tab[i].parent == parent && !strcmp(c->tab[i].label, label))
			return c->tab[i].id;
	uint64_t id = ++c->count;
	c->tab[i] = (struct snode){parent, label, id};
	glass_buf_printf(&c->frames, "%s\"%llu\":{\"name\":", id > 1 ? "," : "",
			 (unsigned long long)id);
	glass_json_str(&c->frames, label, strlen(label));
	glass_buf_puts(&c->frames, ",\"category\":");
	const char *cat = m->python ? "python" : m->object ? m->object : "native";
	glass_json_str(&c->frames, cat, strlen(cat));
	if (parent)
		glass_buf_printf(&c->frames, ",\"parent\":\"%llu\"", (unsigned long long)parent);
	glass_buf_puts(&c->frames, "}");
	return id;
}

static void on_event(void *ctx, const struct native_event *e)
{
	struct nch *c = ctx;
	if (e->rec->tag != GLASS_REC_SAMPLE)
		return;
	size_t k = glass_native_mixed(c->n, e, 0, c->m, 256);
	uint64_t node = 0;
	for (size_t i = 0; i < k; i++)
		node = node_of(c, node, &c->m[i]);
	if (!node)
		return;
	const struct glass_proc_info *pi = glass_proc_info(e->proc);
	double ts = e->rec->ts_ns > c->base_ns ? (double)(e->rec->ts_ns - c->base_ns) / 1e3 : 0;
	glass_buf_printf(&c->samples,
			 "%s{\"cpu\":0,\"pid\":%u,\"tid\":%u,\"ts\":%.3f,\"name\":\"%s\",\"sf\":\"%llu\","
			 "\"weight\":%llu}",
			 c->nsamples ? ",\n" : "", pi->pid, glass_proc_thread_tid(e->proc, e->tidx), ts,
			 e->rec->u[4] ? "wall" : "cpu", (unsigned long long)node,
			 (unsigned long long)(e->rec->u[3] ? e->rec->u[3] : 1));
	c->nsamples++;
}

void native_chrome(struct glass_buf *out, struct glass_session *s, uint64_t base_ns)
{
	struct nch *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->base_ns = base_ns;
	c->n = glass_native_open(s);
	if (c->n) {
		glass_native_walk(c->n, NATIVE_SAMPLES, on_event, c);
		for (size_t i = 0; i < glass_native_nwarnings(c->n); i++)
			fprintf(stderr, "glass-report: warning: %s\n", glass_native_warning(c->n, i));
	}
	if (c->nsamples) {
		glass_buf_puts(out, ",\"stackFrames\":{");
		glass_buf_put(out, c->frames.p, c->frames.len);
		glass_buf_puts(out, "},\"samples\":[\n");
		glass_buf_put(out, c->samples.p, c->samples.len);
		glass_buf_puts(out, "]");
		if (c->frames.oom || c->samples.oom)
			out->oom = 1;
	}
	glass_native_close(c->n);
	glass_buf_free(&c->frames);
	glass_buf_free(&c->samples);
	free(c->tab);
	free(c);
}
