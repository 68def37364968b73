/* tools/gen-synthetic.c — writes a big synthetic session to benchmark glass-report (not installed).
 *
 *   gen-synthetic OUTDIR [--events N] [--threads T] [--procs P] [--chunk BYTES] [--raw]
 *                 [--seed S]
 *
 * Each thread runs a random call tree over a few hundred functions with some exceptions and
 * generators; times follow a 3 GHz TSC. Prints the session directory.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/synth.h"

#define NCODES	  400
#define MAX_DEPTH 40
#define POOL	  64

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

struct gen_cfg {
	uint64_t events;
	uint32_t chunk;
	int raw;
	/* each process defines its functions in its own file (same module and qualname), and
	 * leaves every 13th code id undefined: functions alike by name but not the same */
	int alike;
};

struct thread_gen {
	struct synth_chunk c;
	const char *procdir;
	const struct gen_cfg *cfg;
	uint32_t pid, tid, tidx, seq;
	uint64_t ts, start_tsc, start_mono;
	uint64_t events;
	uint32_t depth;
	uint8_t kind[MAX_DEPTH + 1]; /* 0 function, 1 generator */
	uint64_t gen_on_stack[MAX_DEPTH + 1];
	uint32_t code_on_stack[MAX_DEPTH + 1];
	uint64_t pool[POOL]; /* suspended generators */
	uint32_t pool_code[POOL];
	uint32_t npool;
	uint64_t next_gen, next_exc;
};

static uint64_t mono_at(const struct thread_gen *g, uint64_t ts)
{
	return g->start_mono + (ts - g->start_tsc) / 3;
}

static void roll_chunk(struct thread_gen *g, int last)
{
	if (synth_chunk_write(&g->c, g->procdir, !g->cfg->raw, 1, last ? GLASS_CHUNK_LAST : 0,
			      g->cfg->chunk) < 0) {
		perror("gen-synthetic: write chunk");
		exit(1);
	}
	synth_chunk_free(&g->c);
	if (last)
		return;
	g->seq++;
	synth_chunk_init(&g->c, g->pid, g->tid, g->tidx, g->seq, g->ts, mono_at(g, g->ts));
	synth_chunk_start(&g->c, g->ts, g->depth);
	g->events++;
}

static uint32_t pick_code(void)
{
	/* skewed: low ids are hot */
	uint64_t r = rnd();
	return 1 + (uint32_t)((r % (1 + (r >> 32) % NCODES)));
}

static int code_is_gen(uint32_t code)
{
	return code % 10 == 3 || code % 20 == 7;
}

static void step(struct thread_gen *g)
{
	struct synth_chunk *c = &g->c;
	g->ts += 20 + rnd() % 400;
	uint64_t r = rnd() % 100;
	if (g->depth < 2 || (r < 47 && g->depth < MAX_DEPTH)) {
		uint32_t code = pick_code();
		if (code_is_gen(code)) {
			uint64_t gen = 0x7f0000000000ull + (++g->next_gen << 4);
			synth_gen(c, GLASS_REC_GEN_CREATE, g->ts, code, gen);
			g->ts += 20 + rnd() % 200;
			synth_gen(c, GLASS_REC_GEN_RESUME, g->ts, code, gen);
			g->kind[g->depth] = 1;
			g->gen_on_stack[g->depth] = gen;
			g->code_on_stack[g->depth] = code;
			g->events += 2;
		} else {
			synth_call(c, g->ts, code);
			g->kind[g->depth] = 0;
			g->events++;
		}
		g->depth++;
		return;
	}
	if (r < 50 && g->npool && g->depth < MAX_DEPTH) {
		/* resume a suspended generator */
		uint32_t i = (uint32_t)(rnd() % g->npool);
		uint64_t gen = g->pool[i];
		uint32_t code = g->pool_code[i];
		g->pool[i] = g->pool[--g->npool];
		g->pool_code[i] = g->pool_code[g->npool];
		synth_gen(c, GLASS_REC_GEN_RESUME, g->ts, code, gen);
		g->kind[g->depth] = 1;
		g->gen_on_stack[g->depth] = gen;
		g->code_on_stack[g->depth] = code;
		g->depth++;
		g->events++;
		return;
	}
	g->depth--;
	if (g->kind[g->depth] == 1) {
		if (rnd() % 100 < 70 && g->npool < POOL - 1) {
			synth_dt_only(c, GLASS_REC_GEN_YIELD, g->ts);
			g->pool_code[g->npool] = g->code_on_stack[g->depth];
			g->pool[g->npool++] = g->gen_on_stack[g->depth];
		} else {
			synth_dt_only(c, GLASS_REC_GEN_RETURN, g->ts);
		}
		g->events++;
		return;
	}
	if (rnd() % 100 < 3) {
		uint64_t exc = ++g->next_exc;
		synth_exc(c, exc, "ValueError", "synthetic failure");
		synth_raise(c, g->ts, exc);
		g->events += 2;
	} else {
		synth_dt_only(c, GLASS_REC_RETURN, g->ts);
		g->events++;
	}
}

static void run_thread(struct thread_gen *g)
{
	g->seq = 1;
	synth_chunk_init(&g->c, g->pid, g->tid, g->tidx, g->seq, g->ts, mono_at(g, g->ts));
	synth_chunk_start(&g->c, g->ts, 0);
	synth_thread_start(&g->c, g->ts, g->tid, g->tidx);
	char name[32];
	snprintf(name, sizeof(name), g->tidx == 1 ? "MainThread" : "worker-%u", g->tidx);
	synth_thread_name(&g->c, name);
	g->events = 3;
	while (g->events < g->cfg->events) {
		step(g);
		if (synth_chunk_len(&g->c) + 64 > g->cfg->chunk)
			roll_chunk(g, 0);
	}
	while (g->depth) {
		g->ts += 50;
		g->depth--;
		synth_dt_only(&g->c, g->kind[g->depth] ? GLASS_REC_GEN_RETURN : GLASS_REC_RETURN,
			      g->ts);
		if (synth_chunk_len(&g->c) + 64 > g->cfg->chunk)
			roll_chunk(g, 0);
	}
	g->ts += 100;
	synth_dt_only(&g->c, GLASS_REC_THREAD_END, g->ts);
	roll_chunk(g, 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"events", required_argument, NULL, 'e'}, {"threads", required_argument, NULL, 't'},
	    {"procs", required_argument, NULL, 'p'},  {"chunk", required_argument, NULL, 'c'},
	    {"raw", no_argument, NULL, 'r'},	      {"seed", required_argument, NULL, 's'},
	    {"alike", no_argument, NULL, 'a'},	      {NULL, 0, NULL, 0}};
	struct gen_cfg cfg = {.events = 10000000, .chunk = 4u << 20, .raw = 0};
	unsigned threads = 1, procs = 1;
	int c;
	while ((c = getopt_long(argc, argv, "e:t:p:c:rs:a", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			cfg.events = strtoull(optarg, NULL, 10);
			break;
		case 't':
			threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'p':
			procs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			cfg.chunk = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'r':
			cfg.raw = 1;
			break;
		case 'a':
			cfg.alike = 1;
			break;
		case 's':
			rng_state = strtoull(optarg, NULL, 10) * 2654435761u + 1;
			break;
		default:
			fprintf(stderr,
				"usage: gen-synthetic OUTDIR [--events N] [--threads T] "
				"[--procs P] [--chunk BYTES] [--raw] [--seed S] [--alike]\n");
			return 1;
		}
	}
	if (optind >= argc || !threads || !procs || cfg.chunk < 4096) {
		fprintf(stderr, "usage: gen-synthetic OUTDIR [--events N] [--threads T] "
				"[--procs P] [--chunk BYTES>=4096] [--raw] [--seed S] [--alike]\n");
		return 1;
	}
	const char *out = argv[optind];
	mkdir(out, 0700);
	struct timespec rt, mono;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_MONOTONIC, &mono);
	char stamp[32], sdir[4096];
	struct tm tm;
	localtime_r(&rt.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(sdir, sizeof(sdir), "%s/%s-%u", out, stamp, (unsigned)getpid());
	if (synth_session_create(sdir, GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR) < 0) {
		perror("gen-synthetic: session");
		return 1;
	}
	uint64_t rt_ns = (uint64_t)rt.tv_sec * 1000000000ull + (uint64_t)rt.tv_nsec;
	uint64_t mono_ns = (uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec;
	for (unsigned p = 0; p < procs; p++) {
		uint32_t pid = 40000 + p;
		char pdir[4200];
		snprintf(pdir, sizeof(pdir), "%s/p%u.0", sdir, pid);
		uint64_t start_tsc = 1000000000000ull + p * 3000000ull;
		uint64_t start_mono = mono_ns + p * 1000000ull;
		struct synth_meta m;
		synth_meta_init(&m, pid, p ? 40000 : 1, GLASS_CLOCK_TSC, start_tsc, start_mono,
				rt_ns + p * 1000000ull);
		static const char *const av[] = {"python3", "synthetic.py", "--bench"};
		synth_meta_process(&m, pid, p ? 40000 : 1, rt_ns, "3.11.2", "/usr/bin/python3",
				   "/tmp", p ? "fork" : "start", av, 3, p ? "p40000.0" : "");
		for (uint32_t i = 1; i <= NCODES; i++) {
			char q[64], mod[64], file[64] = "/srv/app/module.py";
			if (cfg.alike && i % 13 == 5)
				continue;
			if (cfg.alike)
				snprintf(file, sizeof(file), "/srv/app%u/module.py", p);
			snprintf(q, sizeof(q), "Handler%u.method_%u", i % 37, i);
			snprintf(mod, sizeof(mod), "app.module%u", i % 23);
			uint32_t flags =
			    code_is_gen(i) ? (i % 20 == 7 ? GLASS_CO_COROUTINE : GLASS_CO_GENERATOR)
					   : 0;
			synth_meta_code(&m, i, q, mod, file, 10 + i, flags);
		}
		uint64_t end_ts = start_tsc;
		for (unsigned t = 1; t <= threads; t++) {
			struct thread_gen *g = calloc(1, sizeof(*g));
			g->procdir = pdir;
			g->cfg = &cfg;
			g->pid = pid;
			g->tid = pid + t - 1;
			g->tidx = t;
			g->start_tsc = start_tsc;
			g->start_mono = start_mono;
			g->ts = start_tsc + t * 1000;
			if (t == 1 && synth_meta_write(&m, pdir) < 0) {
				perror("gen-synthetic: meta");
				return 1;
			}
			run_thread(g);
			if (g->ts > end_ts)
				end_ts = g->ts;
			free(g);
		}
		struct glass_meta_header *h = synth_meta_header(&m);
		h->state = GLASS_PROC_EXITED;
		h->threads = threads;
		h->end_tsc = end_ts + 300;
		h->end_mono_ns = start_mono + (end_ts + 300 - start_tsc) / 3;
		if (synth_meta_write(&m, pdir) < 0) {
			perror("gen-synthetic: meta");
			return 1;
		}
		synth_meta_free(&m);
	}
	printf("%s\n", sdir);
	return 0;
}
