/* tools/native-html.c — `glass-report html`'s CPU-samples flame graph and crash panel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/flame.h"
#include "native.h"
#include "analysis/text.h"

struct nhtml {
	struct glass_native *n;
	FILE *m;
	int count;
};

static void on_crash(void *ctx, const struct native_event *e)
{
	struct nhtml *h = ctx;
	if (e->rec->tag != GLASS_REC_CRASH)
		return;
	native_crash_print(h->m, h->n, e, 1, h->count == 0);
	h->count++;
}

int native_html(struct glass_buf *b, struct glass_session *s,
		void (*esc)(struct glass_buf *b, const char *s, size_t len))
{
	/* crashes first: a crashed run's most important fact */
	struct nhtml h = {0};
	char *text = NULL;
	size_t len = 0;
	h.n = glass_native_open(s);
	if (!h.n)
		return -1;
	h.m = open_memstream(&text, &len);
	if (!h.m) {
		glass_native_close(h.n);
		return -1;
	}
	glass_native_walk(h.n, NATIVE_CRASHES, on_crash, &h);
	fclose(h.m);
	glass_native_close(h.n);
	if (h.count) {
		glass_buf_puts(b, "<section id=\"crashes\"><h2>Crashes</h2><pre class=\"err\">");
		esc(b, text, len);
		glass_buf_puts(b, "</pre></section>");
	}
	free(text);

	struct flame_opts o = {0};
	o.value = FLAME_WALL;
	o.until_ns = UINT64_MAX;
	uint64_t nsamples = 0;
	struct flame *F = native_flame_collect(s, &o, &nsamples);
	if (!F || !flame_total(F)) {
		flame_free(F);
		return 0;
	}
	char *svg = NULL;
	FILE *m = open_memstream(&svg, &len);
	if (!m) {
		flame_free(F);
		return -1;
	}
	struct flame_svg_opts so = {"CPU samples: Python callers above the C functions", NULL, 1180,
				    0.1};
	int rc = flame_write_svg(m, F, &so);
	fclose(m);
	flame_free(F);
	if (rc == 0) {
		glass_buf_puts(b, "<section id=\"samples\"><h2>CPU samples (native stacks)</h2>"
				  "<iframe title=\"samples flame graph\" sandbox=\"allow-scripts\" "
				  "srcdoc=\"");
		esc(b, svg, len);
		glass_buf_puts(b, "\"></iframe></section>");
	}
	free(svg);
	return rc;
}
