/* tests/compat/probe-table.c — what preload/compat.c believes, printed like probe-headers.c. */
#include <stdio.h>
#include <stdlib.h>

#include "preload/compat.h"

#define P(name, value) printf("%s %zu\n", name, (size_t)(value))

int main(int argc, char **argv)
{
	unsigned minor = argc > 1 ? (unsigned)atoi(argv[1]) : 0;
	if (glass_compat_init((3ul << 24) | ((unsigned long)minor << 16)) != 0)
		return 1;
	P("minor", glass_cx.minor);
	P("frame_object", glass_cx.frame_object);
	P("frame_code", glass_cx.frame_code);
	P("frame_globals", glass_cx.frame_globals);
	P("frame_owner", glass_cx.frame_owner);
	P("frame_localsplus", glass_cx.frame_localsplus);
	P("frame_gen", glass_cx.frame_gen);
	P("frame_state", glass_cx.frame_state);
	P("frame_stacktop", glass_cx.frame_stacktop);
	P("gen_frame", glass_cx.gen_frame);
	P("func_code", glass_cx.func_code);
	P("func_vectorcall", glass_cx.func_vectorcall);
	P("dict_version", glass_cx.dict_version);
	P("state_suspended_max", glass_cx.state_suspended_max);
	P("gen_iframe", glass_cx.gen_iframe);
	P("gen_state_before_iframe", -GLASS_GEN_STATE_FROM_IFRAME);
	P("co_flags", glass_cx.co_flags);
	P("co_filename", glass_cx.co_filename);
	P("co_qualname", glass_cx.co_qualname);
	P("co_name", glass_cx.co_name);
	P("co_code", glass_cx.co_code);
	P("co_consts", glass_cx.co_consts);
	P("co_firstlineno", glass_cx.co_firstlineno);
	P("co_extra", glass_cx.co_extra);
	P("ts_exc", glass_cx.ts_exc);
	P("ts_c_recursion", glass_cx.ts_c_recursion);
	P("ts_guard", glass_cx.ts_guard);
	P("ascii_size", glass_cx.ascii_size);
	P("str_length", GLASS_STR_LENGTH_OFF);
	P("str_state", GLASS_STR_STATE_OFF);
	P("tp_flags", GLASS_TP_FLAGS_OFF);
	P("tp_getattro", GLASS_TP_GETATTRO_OFF);
	P("tp_base", GLASS_TP_BASE_OFF);
	P("tp_dict", GLASS_TP_DICT_OFF);
	P("tp_methods", GLASS_TP_METHODS_OFF);
	P("tp_finalize", GLASS_TP_FINALIZE_OFF);
	P("exc_args", GLASS_EXC_ARGS_OFF);
	P("tuple_items", GLASS_TUPLE_ITEMS_OFF);
	P("bytes_data", GLASS_BYTES_DATA_OFF);
	P("opcode_load_const", GLASS_OP_LOAD_CONST);
	P("opcode_make_function", GLASS_OP_MAKE_FUNCTION);
	P("opcode_extended_arg", GLASS_OP_EXTENDED_ARG);
	P("opcode_load_build_class", GLASS_OP_LOAD_BUILD_CLASS);
	P("opcode_store_name", GLASS_OP_STORE_NAME);
	P("opcode_load_name", GLASS_OP_LOAD_NAME);
	P("frame_owned_by_generator", GLASS_FRAME_OWNED_BY_GENERATOR);
	P("runtime_audit_head", glass_cx.runtime_audit_head);
	return 0;
}
