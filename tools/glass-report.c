/* tools/glass-report.c — the offline report tool: dispatches to one file per subcommand. */
#include <stdio.h>
#include <string.h>

#include "follow.h"
#include "report.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
    {"summary", command_summary, "per-function table, processes and threads (default)"},
    {"jsonl", command_jsonl, "one completed span per line as JSON (or Glimpse entries)"},
    {"info", command_info, "what the session holds: processes, threads, records, damage"},
    {"otlp", command_otlp, "spans as OpenTelemetry OTLP/JSON, to a file or a collector"},
    {"metrics", command_metrics, "counters, timers, gauges as Prometheus or spectatord lines"},
    {"sqlite", command_sqlite, "the session as an SQLite database (spans, function stats, views)"},
    {"chrome", command_chrome, "Chrome Trace Event JSON for chrome://tracing and Perfetto"},
    {"flamegraph", command_flamegraph, "time per stack as an interactive SVG flame graph, or folded"},
    {"tree", command_tree, "span trees in the terminal, one per request or root call"},
    {"html", command_html, "one self-contained HTML dashboard: endpoints, requests, queries"},
    {"top", command_top, "live view of a running session: endpoints, functions, processes"},
    {"crash", command_crash, "crashed processes: signal, address, mixed C/Python stack, last calls"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: glass-report [COMMAND] [SESSION] [OPTIONS]\n"
		"\n"
		"Reads a recording made with LD_PRELOAD=libglass.so and renders it.\n"
		"SESSION is a session directory, or a directory of sessions (its newest is used);\n"
		"when omitted, the newest session under $GLASS_OUT, else ./glass-out.\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'glass-report --list [DIR]' lists the sessions under DIR (default as above).\n"
		   "'glass-report COMMAND --help' describes a command's options.\n\n%s",
		report_exit_help);
}

int main(int argc, char **argv)
{
	if (argc > 1) {
		/* the streaming forms of otlp and metrics (tools/follow-*.c) */
		if (!strcmp(argv[1], "otlp") && follow_has_option(argc - 1, argv + 1, "--follow"))
			return command_otlp_follow(argc - 1, argv + 1);
		if (!strcmp(argv[1], "metrics") &&
		    (follow_has_option(argc - 1, argv + 1, "--follow") ||
		     follow_has_option(argc - 1, argv + 1, "--serve")))
			return command_metrics_follow(argc - 1, argv + 1);
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[1], commands[i].name))
				return commands[i].fn(argc - 1, argv + 1);
		if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
		    !strcmp(argv[1], "help")) {
			usage(stdout);
			return GLASS_EXIT_OK;
		}
		if (!strcmp(argv[1], "--list"))
			return command_list(argc - 1, argv + 1);
		if (!strcmp(argv[1], "--version")) {
			printf("glass-report %s (format %d.%d)\n", GLASS_VERSION,
			       GLASS_FORMAT_MAJOR, GLASS_FORMAT_MINOR);
			return GLASS_EXIT_OK;
		}
	}
	/* no command: summary, with argv[0] standing in for the command name */
	argv[0] = (char *)"summary";
	return command_summary(argc, argv);
}
