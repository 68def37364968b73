/* tests/fuzz/fuzz-symbols.c — libFuzzer target: the ELF resolver on arbitrary file contents
 * (an object replaced after the recording, a damaged debug file). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "symbols/resolve.h"

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/glass-fuzz-symbols-%d.so", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	struct glass_sym_resolver *r = glass_sym_resolver_new(NULL, NULL);
	struct glass_sym_file *sf = glass_sym_file_get(r, path, "");
	struct glass_sym_frame fr;
	static const uint64_t addrs[] = {0, 1, 0x40, 0x1000, 0x1139, 0x4000, 0xffffffffffffull};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		glass_sym_lookup(sf, addrs[i], 1, &fr);
		if (fr.function)
			(void)strlen(fr.function);
		if (fr.file)
			(void)strlen(fr.file);
	}
	glass_sym_resolver_free(r);
	return 0;
}
