/* preload/compat.c — the per-version offset tables behind compat.h. */
#include "compat.h"

struct glass_compat glass_cx __attribute__((visibility("hidden")));

/* From CPython's headers of each version (x86-64, default GIL build, non-debug). */
static const struct glass_compat tables[] = {
	{
		.minor = 11,
		.frame_code = 32, /* f_func, f_globals, f_builtins, f_locals, f_code */
		.frame_globals = 8,
		.frame_owner = 69,
		.frame_localsplus = 72,
		.gen_iframe = 80,
		.state_suspended_max = -1, /* FRAME_CREATED -2, FRAME_SUSPENDED -1 */
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_firstlineno = 72,
		.co_extra = 176,
		.co_argcount = 56,
		.co_kwonlyargcount = 64,
		.co_localsplusnames = 96,
		.state_created = -2,
		.ts_exc = 96, /* curexc_type, curexc_value, curexc_traceback */
		.ts_c_recursion = 0,
		.ts_guard = 32, /* recursion_remaining */
		.ascii_size = 48,
		.runtime_audit_head = 656,
	},
	{
		.minor = 12,
		.frame_code = 0,
		.frame_globals = 24,
		.frame_owner = 70,
		.frame_localsplus = 72,
		.gen_iframe = 72,
		.state_suspended_max = -1,
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_firstlineno = 68,
		.co_extra = 184,
		.co_argcount = 52,
		.co_kwonlyargcount = 60,
		.co_localsplusnames = 96,
		.state_created = -2,
		.ts_exc = 96, /* current_exception */
		.ts_c_recursion = 36,
		.ts_guard = 36,
		.ascii_size = 40,
		.runtime_audit_head = 3064,
	},
	{
		.minor = 13,
		.frame_code = 0, /* f_executable */
		.frame_globals = 24,
		.frame_owner = 70,
		.frame_localsplus = 72,
		.gen_iframe = 72,
		.state_suspended_max = -1, /* FRAME_SUSPENDED -2, FRAME_SUSPENDED_YIELD_FROM -1 */
		.co_flags = 48,
		.co_filename = 112,
		.co_qualname = 128,
		.co_firstlineno = 68,
		.co_extra = 192,
		.co_argcount = 52,
		.co_kwonlyargcount = 60,
		.co_localsplusnames = 96,
		.state_created = -3,
		.ts_exc = 112,
		.ts_c_recursion = 52,
		.ts_guard = 52,
		.ascii_size = 40,
		.runtime_audit_head = 10424,
	},
};

int glass_compat_init(unsigned long version_hex)
{
	unsigned major = (version_hex >> 24) & 0xff, minor = (version_hex >> 16) & 0xff;
	if (major != 3)
		return -1;
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		if (tables[i].minor == minor) {
			glass_cx = tables[i];
			return 0;
		}
	}
	return -1;
}
