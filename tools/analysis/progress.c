/* tools/progress.c — a progress bar on stderr, only on a terminal and only for slow work. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "text.h"

#define SHOW_AFTER_NS 1000000000ull /* quick runs never flash a bar */
#define REDRAW_NS     100000000ull
#define CHECK_EVERY   64u /* calls between clock reads when the count moves slowly */

struct glass_progress {
	char what[64];
	uint64_t total, done;
	uint64_t next_check; /* read the clock when done reaches this */
	uint64_t step;
	uint64_t start_ns, last_draw_ns;
	unsigned calls;
	int shown;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	/* coarse: a few ns per read, and 4 ms resolution is plenty for a bar */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int term_cols(void)
{
	struct winsize ws;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static void draw(struct glass_progress *p, uint64_t t)
{
	char line[512], tail[96], el[32];
	glass_fmt_dur(el, sizeof(el), t - p->start_ns);
	int cols = term_cols();
	if (cols > 200)
		cols = 200;
	if (p->total) {
		uint64_t done = p->done < p->total ? p->done : p->total;
		double f = (double)done / (double)p->total;
		snprintf(tail, sizeof(tail), " %3d%% %s", (int)(f * 100.0), el);
		int bar = cols - 1 - (int)strlen(p->what) - 3 - (int)strlen(tail);
		if (bar > 50)
			bar = 50;
		int n = snprintf(line, sizeof(line), "\r%s [", p->what);
		if (bar >= 5) {
			int fill = (int)(f * bar);
			for (int i = 0; i < bar && n < (int)sizeof(line) - 1; i++)
				line[n++] = i < fill ? '#' : '.';
		}
		snprintf(line + n, sizeof(line) - n, "]%s\033[K", tail);
	} else if (p->done) {
		char cnt[32];
		glass_fmt_count(cnt, sizeof(cnt), p->done);
		snprintf(line, sizeof(line), "\r%s %s %s\033[K", p->what, cnt, el);
	} else { /* nothing to count: still busy, for how long */
		snprintf(line, sizeof(line), "\r%s... %s\033[K", p->what, el);
	}
	fputs(line, stderr);
	fflush(stderr);
	p->shown = 1;
	p->last_draw_ns = t;
}

static void check(struct glass_progress *p)
{
	p->next_check = p->done + p->step;
	uint64_t t = now_ns();
	if (t - p->start_ns < SHOW_AFTER_NS || t - p->last_draw_ns < REDRAW_NS)
		return;
	draw(p, t);
}

struct glass_progress *glass_progress_start(const char *what, uint64_t total)
{
	const char *env = getenv("GLASS_PROGRESS");
	if ((env && !strcmp(env, "0")) || !isatty(STDERR_FILENO))
		return NULL;
	const char *term = getenv("TERM");
	if (term && !strcmp(term, "dumb"))
		return NULL;
	struct glass_progress *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->what, sizeof(p->what), "%s", what ? what : "working");
	p->total = total;
	p->step = total / 256 ? total / 256 : 1;
	p->next_check = p->step;
	p->start_ns = now_ns();
	return p;
}

void glass_progress_add(struct glass_progress *p, uint64_t n)
{
	if (!p)
		return;
	p->done += n;
	if (p->done >= p->next_check || ++p->calls % CHECK_EVERY == 0)
		check(p);
}

void glass_progress_set(struct glass_progress *p, uint64_t done)
{
	if (!p)
		return;
	p->done = done;
	check(p);
}

void glass_progress_end(struct glass_progress *p)
{
	if (!p)
		return;
	if (p->shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	free(p);
}
