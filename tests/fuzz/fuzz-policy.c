/* tests/fuzz/fuzz-policy.c — libFuzzer target: the policy loader on arbitrary file contents. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy/policy.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0]) {
		snprintf(path, sizeof(path), "/tmp/glass-fuzz-policy-%d.json", (int)getpid());
	}
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	char err[512], warn[512];
	struct glass_policy *p = glass_policy_load(path, err, sizeof(err), warn, sizeof(warn));
	if (p) {
		/* exercise the matcher and accessors on what was loaded */
		static const char *mods[] = {"", "__main__", "shop", "shop.models.user", "api_v2",
					     "a.b.c.d.e.f", "x[y]"};
		for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
			glass_policy_match(p, mods[i], "/app/shop/models/user.py");
		glass_policy_trace_depth(p);
		glass_policy_summary(p);
		glass_policy_option_str(p, "sql_text", "normalized");
		glass_policy_option_int(p, "max_sql_length", 0);
		glass_policy_option_double(p, "sample", 1.0);
		const char *const *items;
		glass_policy_option_list(p, "exclude_routes", &items);
		glass_policy_option_list(p, "capture.headers", &items);
		glass_policy_free(p);
	} else {
		/* every failure says where: "<path>:<line>:<col>: ..." or "<path>: ..." */
		if (strncmp(err, path, strlen(path)) != 0)
			abort();
	}
	return 0;
}
