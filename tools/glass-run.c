/* tools/glass-run.c — runs a command with libglass.so preloaded (it finds the library itself). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GLASS_LIBDIR
#define GLASS_LIBDIR "/usr/local/lib/glass"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"usage: glass-run [-o DIR] [-p POLICY] [-l LEVEL] [--sample HZ] [--] COMMAND [ARG...]\n"
		"\n"
		"Runs COMMAND with libglass.so preloaded, so every Python process it starts is\n"
		"traced. Afterwards, run glass-report to read the recording.\n"
		"\n"
		"  -o, --out DIR       where sessions go (sets GLASS_OUT; default ./glass-out)\n"
		"  -p, --policy FILE   the glimpse-policy.json to use (sets GLASS_POLICY)\n"
		"  -l, --log LEVEL     quiet, info or debug (sets GLASS_LOG)\n"
		"  -s, --sample HZ     sample native stacks HZ times a second of each thread's CPU\n"
		"                      time (sets GLASS_SAMPLE_HZ; 0: off, the default); read them\n"
		"                      with glass-report flamegraph --samples\n"
		"  -h, --help          this text\n"
		"\n"
		"Exit status: COMMAND's, or 125 when glass-run itself failed, 127 when COMMAND\n"
		"could not be run.\n");
}

static int exists(const char *p)
{
	return access(p, R_OK) == 0;
}

/* The library beside this program: the build tree (tools/ next to preload/) or an install
 * (bin/ next to lib/glass/, or the configured libdir). */
static int find_library(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			const char *rel[] = {"/../preload/libglass.so", "/../lib/glass/libglass.so",
					     "/../lib/x86_64-linux-gnu/glass/libglass.so",
					     "/../lib64/glass/libglass.so"};
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
				char cand[PATH_MAX + 64];
				snprintf(cand, sizeof(cand), "%s%s", self, rel[i]);
				char real[PATH_MAX];
				if (exists(cand) && realpath(cand, real)) {
					snprintf(out, len, "%s", real);
					return 0;
				}
			}
		}
	}
	snprintf(out, len, "%s/libglass.so", GLASS_LIBDIR);
	return exists(out) ? 0 : -1;
}

static int set_abs(const char *name, const char *path)
{
	char buf[PATH_MAX * 2];
	if (path[0] == '/') {
		snprintf(buf, sizeof(buf), "%s", path);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -1;
		snprintf(buf, sizeof(buf), "%s/%s", cwd, path);
	}
	return setenv(name, buf, 1);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, 0, 'o'},
					     {"policy", required_argument, 0, 'p'},
					     {"log", required_argument, 0, 'l'},
					     {"sample", required_argument, 0, 's'},
					     {"help", no_argument, 0, 'h'},
					     {0, 0, 0, 0}};
	int c;
	/* '+': stop at the first non-option, so COMMAND's own options stay its own */
	while ((c = getopt_long(argc, argv, "+o:p:l:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (set_abs("GLASS_OUT", optarg) != 0)
				goto fail_env;
			break;
		case 'p':
			if (!exists(optarg)) {
				fprintf(stderr, "glass-run: policy file %s: %s\n", optarg,
					strerror(errno));
				return 125;
			}
			if (set_abs("GLASS_POLICY", optarg) != 0)
				goto fail_env;
			break;
		case 'l':
			if (strcmp(optarg, "quiet") && strcmp(optarg, "info") &&
			    strcmp(optarg, "debug")) {
				fprintf(stderr, "glass-run: --log takes quiet, info or debug\n");
				return 125;
			}
			setenv("GLASS_LOG", optarg, 1);
			break;
		case 's': {
			char *end;
			long hz = strtol(optarg, &end, 10);
			if (*end || end == optarg || hz < 0 || hz > 10000) {
				fprintf(stderr, "glass-run: --sample takes a rate from 0 to 10000 (Hz)\n");
				return 125;
			}
			setenv("GLASS_SAMPLE_HZ", optarg, 1);
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 125;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 125;
	}
	char lib[PATH_MAX];
	if (find_library(lib, sizeof(lib)) != 0) {
		fprintf(stderr,
			"glass-run: cannot find libglass.so next to this program or in %s "
			"(build the project, or install it with meson install)\n",
			GLASS_LIBDIR);
		return 125;
	}
	const char *old = getenv("LD_PRELOAD");
	char preload[PATH_MAX * 4];
	if (old && *old && !strstr(old, lib))
		snprintf(preload, sizeof(preload), "%s %s", lib, old);
	else
		snprintf(preload, sizeof(preload), "%s", old && *old ? old : lib);
	if (setenv("LD_PRELOAD", preload, 1) != 0)
		goto fail_env;
	execvp(argv[optind], argv + optind);
	fprintf(stderr, "glass-run: cannot run %s: %s\n", argv[optind], strerror(errno));
	return 127;
fail_env:
	fprintf(stderr, "glass-run: cannot set up the environment: %s\n", strerror(errno));
	return 125;
}
