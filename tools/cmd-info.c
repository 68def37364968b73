/* tools/cmd-info.c — `glass-report info`: what a session holds, and the record schema. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "readahead.h"
#include "report.h"
#include "spans.h"
#include "text.h"

struct info {
	uint64_t by_status[4];
};

static void on_span(void *ctx, const struct glass_span *sp)
{
	struct info *I = ctx;
	I->by_status[sp->status & 3]++;
}

static const char *state_name(uint32_t st)
{
	switch (st) {
	case GLASS_PROC_RUNNING:
		return "running (no clean end recorded: crashed or killed?)";
	case GLASS_PROC_EXITED:
		return "exited";
	case GLASS_PROC_EXECED:
		return "replaced by exec";
	case GLASS_PROC_UNDERSCORE_EXIT:
		return "_exit";
	default:
		return "unknown";
	}
}

static void print_text(const char *label, const char *s)
{
	char text[200 * 4 + 8];
	glass_term_text(text, sizeof(text), s, strlen(s), 200, 0);
	printf("    %-12s %s\n", label, *text ? text : "-");
}

static void print_schema(void)
{
	size_t n;
	const struct glass_record_desc *d = glass_record_descs(&n);
	printf("glass record format %d.%d\n", GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR);
	printf(
	    "field types: u unsigned, i signed, s string (nil: unknown), a array of strings\n\n");
	printf("%-4s %-13s %-7s %s\n", "tag", "name", "file", "fields");
	for (size_t i = 0; i < n; i++) {
		printf("%-4u %-13s %-7s ", d[i].tag, d[i].name, d[i].tag < 64 ? "chunk" : "meta");
		const char *f = d[i].fields;
		for (size_t k = 0; d[i].types[k]; k++) {
			const char *comma = strchr(f, ',');
			size_t len = comma ? (size_t)(comma - f) : strlen(f);
			printf("%s%.*s:%c", k ? " " : "", (int)len, f, d[i].types[k]);
			f = comma ? comma + 1 : f + len;
		}
		printf("\n");
	}
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report info [SESSION] [--schema] [--objects] [--strict]\n"
	    "\n"
	    "Describes a session: format version, processes (pid, parent, origin, state, exit\n"
	    "status, Python, executable, argv), their threads and chunks, records by type, lost\n"
	    "records, unmatched exits, every warning and note, and the time span.\n"
	    "\n"
	    "      --schema   print the record table of the format instead (no session needed)\n"
	    "      --objects  list each process's loaded ELF objects (path, code addresses,\n"
	    "                 build-id), the ones native stacks are resolved against\n"
	    "      --strict   exit with status 3 when the session was read with warnings\n"
	    "  -h, --help     this text\n"
	    "\n%s",
	    report_exit_help);
}

/* What info adds up over the whole session. */
struct info_totals {
	struct glass_span_counts all;
	uint64_t first, last, lost;
};

static void add_counts(struct info_totals *T, const struct glass_span_counts *cnt)
{
	struct glass_span_counts *all = &T->all;
	all->records += cnt->records;
	for (int t = 0; t <= GLASS_REC_MAX_TAG; t++)
		all->by_tag[t] += cnt->by_tag[t];
	all->spans += cnt->spans;
	all->unmatched_exits += cnt->unmatched_exits;
	all->mismatched_exits += cnt->mismatched_exits;
	all->resyncs += cnt->resyncs;
	all->gens_evicted += cnt->gens_evicted;
	all->too_deep += cnt->too_deep;
	if (cnt->first_ns && cnt->first_ns < T->first)
		T->first = cnt->first_ns;
	if (cnt->last_ns > T->last)
		T->last = cnt->last_ns;
}

/* One thread's line; returns its LOST records (0 when it cannot be read). */
static uint64_t print_thread(struct info *I, struct info_totals *T, struct glass_session *s,
			     size_t pi, size_t ti)
{
	struct glass_proc *p = glass_session_proc(s, pi);
	const uint32_t *tidx;
	glass_proc_threads(p, &tidx);
	struct glass_readahead *ra = glass_readahead_open(p, tidx[ti]);
	if (!ra)
		return 0;
	struct glass_spans *b =
	    glass_spans_new(p, tidx[ti], glass_span_ids_for(s, pi, ti), NULL, on_span, I);
	if (!b) {
		glass_readahead_close(ra);
		return 0;
	}
	struct glass_record rec;
	while (glass_readahead_next(ra, &rec))
		glass_spans_feed(b, &rec);
	struct glass_stream *st = glass_readahead_stream(ra);
	glass_spans_finish(b);
	const struct glass_span_counts *cnt = glass_spans_counts(b);
	uint32_t max_seq;
	uint32_t chunks = glass_proc_thread_chunks(p, tidx[ti], &max_seq);
	const char *name = glass_spans_thread_name(b);
	char nm[64 * 4 + 8] = "-", buf[128], buf2[128];
	if (name)
		glass_term_text(nm, sizeof(nm), name, strlen(name), 64, 0);
	glass_fmt_count(buf, sizeof(buf), cnt->records);
	glass_fmt_count(buf2, sizeof(buf2), glass_stream_bytes(st));
	printf("      t%-4u tid %-8u %-20s %u chunks (last seq %u), %s bytes, %s records\n",
	       tidx[ti], glass_spans_tid(b), nm, chunks, max_seq, buf2, buf);
	glass_readahead_close(ra);
	add_counts(T, cnt);
	uint64_t lost = cnt->lost_records;
	glass_spans_free(b);
	return lost;
}

/* The process's identity: pid, origin, state, Python, command line, times, clock. */
static void print_process_head(struct glass_proc *p)
{
	const struct glass_proc_info *in = glass_proc_info(p);
	const struct glass_meta_header *h = glass_proc_header(p);
	char buf[128];
	printf("\n  %s  pid %u  ppid %u  origin %s%s%s\n", in->key, in->pid, in->ppid,
	       *in->origin ? in->origin : "-", *in->parent ? " from " : "", in->parent);
	printf("    %-12s %s", "state", state_name(in->state));
	if (in->state == GLASS_PROC_EXITED || in->state == GLASS_PROC_UNDERSCORE_EXIT)
		printf(", status %d", in->exit_status);
	printf("\n");
	printf("    %-12s %u.%u\n", "format", h->major, h->minor);
	print_text("python", in->python);
	print_text("executable", in->executable);
	struct glass_buf argv_text = {0};
	for (uint32_t i = 0; i < in->argc; i++) {
		if (i)
			glass_buf_put(&argv_text, " ", 1);
		glass_buf_puts(&argv_text, in->argv[i]);
	}
	glass_buf_put(&argv_text, "", 1);
	print_text("argv", argv_text.p ? argv_text.p : "");
	glass_buf_free(&argv_text);
	print_text("cwd", in->cwd);
	glass_fmt_time(buf, sizeof(buf), in->start_unix_ns, 1, 1);
	printf("    %-12s %s\n", "started", buf);
	if (in->end_unix_ns) {
		glass_fmt_time(buf, sizeof(buf), in->end_unix_ns, 1, 1);
		printf("    %-12s %s\n", "ended", buf);
	}
	printf("    %-12s %s, %.4f ns per tick\n", "clock",
	       in->clock == GLASS_CLOCK_MONO ? "monotonic ns" : "TSC", glass_proc_ns_per_tick(p));
	printf("    %-12s %u defined\n", "code", in->ncodes);
}

static int list_objects; /* --objects */

/* One loaded ELF object (--objects). */
static void print_object(const struct glass_record *rec)
{
	printf("    %-12s %.*s  0x%llx-0x%llx  build-id %.*s\n", "object", (int)rec->s[1].len,
	       rec->s[1].p ? rec->s[1].p : "", (unsigned long long)rec->u[3],
	       (unsigned long long)rec->u[4], rec->s[5].len ? (int)rec->s[5].len : 4,
	       rec->s[5].len ? rec->s[5].p : "none");
}

/* The process's capture counters, its loaded objects and how many other meta records it has. */
static void print_process_meta(struct glass_proc *p)
{
	size_t cursor = 0, other = 0, objects = 0, unloaded = 0;
	struct glass_record rec;
	while (glass_proc_meta_next(p, &cursor, &rec)) {
		other += rec.tag != GLASS_REC_CODE && rec.tag != GLASS_REC_PROCESS &&
			 rec.tag != GLASS_REC_OBJECT && rec.tag != GLASS_REC_OBJECT_UNLOAD;
		objects += rec.tag == GLASS_REC_OBJECT;
		unloaded += rec.tag == GLASS_REC_OBJECT_UNLOAD;
		if (rec.tag == GLASS_REC_OBJECT && list_objects)
			print_object(&rec);
		if (rec.tag == GLASS_REC_CAPTURE)
			printf("    %-12s %llu connections followed; not recorded: %llu gave up "
			       "(not the protocol), %llu busy, %llu no slot, %llu ended on "
			       "another thread, %llu requests not sampled\n",
			       "capture", (unsigned long long)rec.u[0],
			       (unsigned long long)rec.u[1], (unsigned long long)rec.u[2],
			       (unsigned long long)rec.u[3], (unsigned long long)rec.u[4],
			       (unsigned long long)rec.u[5]);
	}
	if (objects)
		printf("    %-12s %zu loaded ELF objects, %zu unloaded%s\n", "objects", objects,
		       unloaded, list_objects ? "" : " (--objects lists them)");
	printf("    %-12s %zu other meta records (fork, exec, end, notes, policy, capture)\n",
	       "meta", other);
}

static void print_process(struct info *I, struct info_totals *T, struct glass_session *s, size_t pi)
{
	struct glass_proc *p = glass_session_proc(s, pi);
	const struct glass_proc_info *in = glass_proc_info(p);
	print_process_head(p);
	uint64_t lost_records = 0;
	const uint32_t *tidx;
	size_t n = glass_proc_threads(p, &tidx);
	printf("    %-12s %zu\n", "threads", n);
	for (size_t ti = 0; ti < n; ti++)
		lost_records += print_thread(I, T, s, pi, ti);
	T->all.lost_records += lost_records;
	uint64_t lost = in->lost_events > lost_records ? in->lost_events : lost_records;
	T->lost += lost;
	printf("    %-12s %llu records (header counter %llu, LOST records %llu), %llu "
	       "chunk files not created\n",
	       "lost", (unsigned long long)lost, (unsigned long long)in->lost_events,
	       (unsigned long long)lost_records, (unsigned long long)in->lost_chunks);
	if (in->start_unix_ns && in->start_unix_ns < T->first)
		T->first = in->start_unix_ns;
	if (in->end_unix_ns > T->last)
		T->last = in->end_unix_ns;
	print_process_meta(p);
}

static void print_totals(const struct info *I, const struct info_totals *T)
{
	const struct glass_span_counts *all = &T->all;
	char buf[128], buf2[128];
	printf("\nrecords by type\n");
	size_t nd;
	const struct glass_record_desc *d = glass_record_descs(&nd);
	for (size_t i = 0; i < nd; i++) {
		if (d[i].tag >= 64)
			continue;
		glass_fmt_count(buf, sizeof(buf), all->by_tag[d[i].tag]);
		printf("  %-13s %15s\n", d[i].name, buf);
	}
	glass_fmt_count(buf, sizeof(buf), all->records);
	printf("  %-13s %15s\n", "total", buf);
	glass_fmt_count(buf, sizeof(buf), all->spans);
	printf("\nspans        %s (ok %llu, error %llu, lost %llu, unfinished %llu)\n", buf,
	       (unsigned long long)I->by_status[GLASS_SPAN_OK],
	       (unsigned long long)I->by_status[GLASS_SPAN_ERROR],
	       (unsigned long long)I->by_status[GLASS_SPAN_LOST],
	       (unsigned long long)I->by_status[GLASS_SPAN_UNFINISHED]);
	printf("lost         %llu records\n", (unsigned long long)T->lost);
	printf("unmatched    %llu exits with nothing open (e.g. a forked child returning into "
	       "its parent's frames)\n",
	       (unsigned long long)all->unmatched_exits);
	printf("mismatched   %llu generator/function exits on the other kind\n",
	       (unsigned long long)all->mismatched_exits);
	printf("resyncs      %llu chunk starts at an unexpected depth\n",
	       (unsigned long long)all->resyncs);
	if (all->gens_evicted || all->too_deep)
		printf("limits       %llu generators evicted, %llu activations too deep\n",
		       (unsigned long long)all->gens_evicted, (unsigned long long)all->too_deep);
	if (T->first != UINT64_MAX && T->last >= T->first) {
		glass_fmt_time(buf, sizeof(buf), T->first, 1, 1);
		glass_fmt_time(buf2, sizeof(buf2), T->last, 1, 1);
		printf("time span    %s .. %s", buf, buf2);
		glass_fmt_dur(buf, sizeof(buf), T->last - T->first);
		printf(" (%s)\n", buf);
	}
}

/* A heading with a count, then each message on its own line. */
static void print_messages(const char *heading, const struct glass_session *s, size_t n,
			   const char *(*get)(const struct glass_session *, size_t))
{
	printf("%-12s %zu\n", heading, n);
	for (size_t i = 0; i < n; i++) {
		const char *w = get(s, i);
		char text[300 * 4 + 8];
		glass_term_text(text, sizeof(text), w, strlen(w), 300, 0);
		printf("  %s\n", text);
	}
}

static int info_option(void *ctx, int c, const char *arg)
{
	(void)arg;
	if (c == 'x')
		*(int *)ctx = 1;
	if (c == 'O')
		list_objects = 1;
	return 0;
}

int command_info(int argc, char **argv)
{
	static const struct option opts[] = {{"schema", no_argument, NULL, 'x'},
					     {"objects", no_argument, NULL, 'O'},
					     {NULL, 0, NULL, 0}};
	int schema = 0;
	const struct report_cli cli = {.name = "info",
				       .usage = usage,
				       .longopts = opts,
				       .option = info_option,
				       .ctx = &schema};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	if (schema) {
		print_schema();
		return report_check_output(stdout, "standard output");
	}
	struct glass_session *s = report_session(&a, &status);
	if (!s)
		return status;
	unsigned major, minor;
	glass_session_version(s, &major, &minor);
	printf("session      %s\n", glass_session_dir(s));
	printf("format       %u.%u (this reader: %d.%d)\n", major, minor, GLASS_FORMAT_MAJOR,
	       GLASS_FORMAT_MINOR);
	printf("session id   %016llx\n", (unsigned long long)glass_session_id(s));
	printf("processes    %zu\n", glass_session_nprocs(s));
	struct info I = {0};
	struct info_totals T = {.first = UINT64_MAX};
	for (size_t pi = 0; pi < glass_session_nprocs(s); pi++)
		print_process(&I, &T, s, pi);
	print_totals(&I, &T);
	size_t nw = glass_session_nwarnings(s);
	print_messages("warnings", s, nw, glass_session_warning);
	print_messages("notes", s, glass_session_nnotices(s), glass_session_notice);
	int rc = report_check_output(stdout, "standard output");
	/* the warnings are listed above already */
	int wrc = a.strict && nw ? GLASS_EXIT_WARNINGS : GLASS_EXIT_OK;
	glass_session_close(s);
	return rc ? rc : wrc;
}
