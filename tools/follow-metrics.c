/* tools/follow-metrics.c — `glass-report metrics --serve HOST:PORT` and
 * `metrics --format spectatord --follow --endpoint udp://HOST:PORT` (placeholder until the
 * next commit). */
#include "follow.h"
#include "report.h"

int command_metrics_follow(int argc, char **argv)
{
	report_error("metrics --serve/--follow: not built yet");
	return GLASS_EXIT_USAGE;
}
