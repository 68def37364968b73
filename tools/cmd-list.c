/* tools/cmd-list.c — `glass-report --list`: the sessions of an output directory, oldest first. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"
#include "analysis/text.h"

struct listed {
	char *name;
	uint64_t start_ns, end_ns; /* 0: unknown */
	uint64_t bytes;		   /* on disk (allocated blocks) */
	uint64_t last_mtime_ns;	   /* newest file: when a run without a clean end last wrote */
	size_t nprocs;
	int clean;	 /* every process ended cleanly */
	int exit_status; /* of the first process, when clean */
	char *command;
	char *error; /* unreadable: why */
};

/* Bytes allocated under dir (a session is two levels deep: p<pid>.<n>/files). */
static void du(const char *dir, int depth, struct listed *L)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char path[4400];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		L->bytes += (uint64_t)st.st_blocks * 512;
		uint64_t m =
		    (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
		if (S_ISREG(st.st_mode) && m > L->last_mtime_ns)
			L->last_mtime_ns = m;
		if (S_ISDIR(st.st_mode) && depth < 2)
			du(path, depth + 1, L);
	}
	closedir(d);
}

static void examine(const char *base, struct listed *L)
{
	char path[4400], err[512];
	snprintf(path, sizeof(path), "%s/%s", base, L->name);
	du(path, 0, L);
	struct glass_session *s = glass_session_open(path, err, sizeof(err));
	if (!s) {
		L->error = strdup(err);
		return;
	}
	L->nprocs = glass_session_nprocs(s);
	L->clean = 1;
	for (size_t i = 0; i < L->nprocs; i++) {
		const struct glass_proc_info *in = glass_proc_info(glass_session_proc(s, i));
		if (in->start_unix_ns && (!L->start_ns || in->start_unix_ns < L->start_ns))
			L->start_ns = in->start_unix_ns;
		if (in->end_unix_ns > L->end_ns)
			L->end_ns = in->end_unix_ns;
		if (!in->end_unix_ns || in->state == GLASS_PROC_RUNNING)
			L->clean = 0;
		if (i == 0) {
			struct glass_buf cmd = {0};
			for (uint32_t k = 0; k < in->argc; k++) {
				if (k)
					glass_buf_put(&cmd, " ", 1);
				glass_buf_puts(&cmd, in->argv[k]);
			}
			glass_buf_put(&cmd, "", 1);
			L->command = cmd.oom ? NULL : cmd.p;
			if (cmd.oom)
				glass_buf_free(&cmd);
			L->exit_status = in->exit_status;
			if (in->state == GLASS_PROC_EXECED)
				L->exit_status = 0;
		}
	}
	/* no clean end: the last write to any file is when it stopped */
	if (!L->clean && L->last_mtime_ns > L->end_ns)
		L->end_ns = L->last_mtime_ns;
	glass_session_close(s);
}

static int listed_cmp(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	/* newest last: by start time, then by name (which starts with the start time) */
	if (x->start_ns && y->start_ns && x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void fmt_bytes(char *out, size_t len, uint64_t n)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, len, "%llu B", (unsigned long long)n);
	else
		snprintf(out, len, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: glass-report --list [DIR]\n"
	    "\n"
	    "Lists the sessions under DIR (default: $GLASS_OUT, else ./glass-out), oldest\n"
	    "first, newest last: name, start time (local), run time (first process start to\n"
	    "the last clean end; '~' marks a run without a clean end, timed to its last write),\n"
	    "processes, size on disk, the first process's exit status ('-' without a clean\n"
	    "end) and command line. Any command takes one: glass-report summary DIR/NAME.\n"
	    "\n"
	    "  -h, --help   this text\n"
	    "\n%s",
	    report_exit_help);
}

/* The sessions under base (directories holding a SESSION file), oldest first; *n of them. */
static struct listed *find_sessions(const char *base, DIR *d, size_t *count)
{
	struct listed *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char sp[4400];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		snprintf(sp, sizeof(sp), "%s/%s/%s", base, e->d_name, GLASS_SESSION_FILE);
		if (stat(sp, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct listed *nv = realloc(v, cap * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		if (!(v[n].name = strdup(e->d_name)))
			break;
		n++;
	}
	for (size_t i = 0; i < n; i++)
		examine(base, &v[i]);
	if (n)
		qsort(v, n, sizeof(*v), listed_cmp);
	*count = n;
	return v;
}

static void print_listed(const struct listed *L)
{
	char name[64 * 4 + 8], started[64] = "-", run[48] = "-", size[32], ex[16] = "-";
	char cmd[100 * 4 + 8];
	glass_term_text(name, sizeof(name), L->name, strlen(L->name), 64, 0);
	fmt_bytes(size, sizeof(size), L->bytes);
	if (L->error) {
		glass_term_text(cmd, sizeof(cmd), L->error, strlen(L->error), 100, 0);
		printf("%-24s %-19s %9s %5s %9s %4s  unreadable: %s\n", name, started, run, "-",
		       size, ex, cmd);
		return;
	}
	if (L->start_ns) {
		glass_fmt_time(started, sizeof(started), L->start_ns, 0, 0);
		started[19] = 0; /* to the second */
	}
	if (L->start_ns && L->end_ns >= L->start_ns) {
		char dur[32];
		glass_fmt_dur(dur, sizeof(dur), L->end_ns - L->start_ns);
		snprintf(run, sizeof(run), "%s%s", L->clean ? "" : "~", dur);
	}
	if (L->clean && L->nprocs)
		snprintf(ex, sizeof(ex), "%d", L->exit_status);
	const char *c0 = L->command ? L->command : "";
	glass_term_text(cmd, sizeof(cmd), c0, strlen(c0), 100, 0);
	printf("%-24s %-19s ", name, started);
	glass_put_padded(stdout, run, 9, 1);
	printf(" %5zu %9s %4s  %s\n", L->nprocs, size, ex, cmd);
}

int command_list(int argc, char **argv)
{
	const struct report_cli cli = {.name = "--list", .usage = usage, .no_strict = 1};
	struct report_args a;
	int status = report_parse(&cli, argc, argv, &a);
	if (status >= 0)
		return status;
	if (argc - a.first > 1) {
		report_error("--list takes one DIR, got %d arguments", argc - a.first);
		return GLASS_EXIT_USAGE;
	}
	const char *env = getenv("GLASS_OUT");
	const char *base = a.first < argc ? argv[a.first] : env && *env ? env : "./glass-out";
	DIR *d = opendir(base);
	if (!d) {
		report_error("cannot list %s: %s", base, strerror(errno));
		return GLASS_EXIT_SESSION;
	}
	size_t n;
	struct listed *v = find_sessions(base, d, &n);
	closedir(d);
	if (!n)
		report_error("no session under %s", base);
	else
		printf("%-24s %-19s %9s %5s %9s %4s  %s\n", "SESSION", "STARTED", "RUN TIME",
		       "PROCS", "SIZE", "EXIT", "COMMAND");
	for (size_t i = 0; i < n; i++) {
		print_listed(&v[i]);
		free(v[i].name);
		free(v[i].command);
		free(v[i].error);
	}
	free(v);
	return report_check_output(stdout, "standard output");
}
