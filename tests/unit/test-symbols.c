/* tests/unit/test-symbols.c — symbols/resolve against ELF fixtures built by meson:
 * fixture-syms.so (.symtab, DWARF), fixture-stripped.so (stripped, .gnu_debuglink to
 * fixture-stripped.debug), and a recorded build-id that differs. */
#include <check.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbols/resolve.h"

static char dir[4096];

static void path_of(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", dir, name);
}

/* The ELF virtual address of a function of a loaded fixture: address - load bias. */
static uint64_t vaddr_of(const char *file, const char *sym, int through_ptr)
{
	char p[4200];
	path_of(p, sizeof(p), file);
	void *h = dlopen(p, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "dlopen %s: %s", p, dlerror());
	void *addr = dlsym(h, sym);
	ck_assert_ptr_nonnull(addr);
	if (through_ptr)
		addr = *(void **)addr;
	struct link_map *lm;
	ck_assert_int_eq(dlinfo(h, RTLD_DI_LINKMAP, &lm), 0);
	return (uint64_t)(uintptr_t)addr - (uint64_t)lm->l_addr;
}

static int nwarn;
static char last_warn[1024];

static void on_warn(void *arg, const char *text)
{
	(void)arg;
	nwarn++;
	snprintf(last_warn, sizeof(last_warn), "%s", text);
}

static void build_id_of(const char *file, char *out)
{
	/* the resolver reads the build-id; a lookup with "" accepts any file */
	char p[4200], cmd[4400];
	path_of(p, sizeof(p), file);
	snprintf(cmd, sizeof(cmd),
		 "readelf -n '%s' | sed -n 's/.*Build ID: \\([0-9a-f]*\\).*/\\1/p'", p);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(out, 64, f));
	out[strcspn(out, "\n")] = 0;
	pclose(f);
	ck_assert_uint_eq(strlen(out), 40);
}

START_TEST(symtab_names_global_and_static_functions_with_lines)
{
	char p[4200], id[64];
	path_of(p, sizeof(p), "fixture-syms.so");
	build_id_of("fixture-syms.so", id);
	uint64_t alpha = vaddr_of("fixture-syms.so", "fixture_alpha", 0);
	uint64_t beta = vaddr_of("fixture-syms.so", "fixture_beta_ptr", 1);
	struct glass_sym_resolver *r = glass_sym_resolver_new(on_warn, NULL);
	struct glass_sym_file *f = glass_sym_file_get(r, p, id);
	struct glass_sym_frame fr;
	glass_sym_lookup(f, alpha, 1, &fr);
	ck_assert_int_eq(fr.status, GLASS_SYM_OK);
	ck_assert_str_eq(fr.function, "fixture_alpha");
	ck_assert_uint_eq(fr.offset, 0);
	ck_assert_ptr_nonnull(fr.file);
	ck_assert_ptr_nonnull(strstr(fr.file, "fixture.c"));
	ck_assert_uint_gt(fr.line, 0);
	glass_sym_lookup(f, beta + 3, 0, &fr);
	ck_assert_str_eq(fr.function, "fixture_beta");
	ck_assert_uint_eq(fr.offset, 3);
	ck_assert_ptr_eq(glass_sym_file_get(r, p, id), f); /* one entry per object */
	ck_assert_int_eq(nwarn, 0);
	glass_sym_resolver_free(r);
}
END_TEST

START_TEST(stripped_object_finds_its_debug_file_by_debuglink)
{
	char p[4200];
	path_of(p, sizeof(p), "fixture-stripped.so");
	setenv("GLASS_DEBUG_DIR", "/nonexistent", 1); /* only the debuglink can find it */
	uint64_t beta = vaddr_of("fixture-syms.so", "fixture_beta_ptr", 1);
	struct glass_sym_resolver *r = glass_sym_resolver_new(on_warn, NULL);
	struct glass_sym_file *f = glass_sym_file_get(r, p, NULL);
	struct glass_sym_frame fr;
	glass_sym_lookup(f, beta, 1, &fr);
	ck_assert_int_eq(fr.status, GLASS_SYM_OK);
	ck_assert_str_eq(fr.function, "fixture_beta");
	ck_assert_ptr_nonnull(fr.file); /* DWARF from the debug file */
	ck_assert_uint_gt(fr.line, 0);
	glass_sym_resolver_free(r);
}
END_TEST

START_TEST(stripped_object_alone_never_gives_a_wrong_name)
{
	char src[4200], tmpd[4200], dst[4300], cmd[9000];
	path_of(src, sizeof(src), "fixture-stripped.so");
	snprintf(tmpd, sizeof(tmpd), "%s/alone-XXXXXX", dir);
	ck_assert_ptr_nonnull(mkdtemp(tmpd));
	snprintf(dst, sizeof(dst), "%s/fixture-stripped.so", tmpd);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", src, dst);
	ck_assert_int_eq(system(cmd), 0);
	setenv("GLASS_DEBUG_DIR", "/nonexistent", 1);
	uint64_t alpha = vaddr_of("fixture-syms.so", "fixture_alpha", 0);
	uint64_t beta = vaddr_of("fixture-syms.so", "fixture_beta_ptr", 1);
	struct glass_sym_resolver *r = glass_sym_resolver_new(on_warn, NULL);
	struct glass_sym_file *f = glass_sym_file_get(r, dst, NULL);
	struct glass_sym_frame fr;
	glass_sym_lookup(f, alpha, 0, &fr); /* exported: .dynsym has it */
	ck_assert_str_eq(fr.function, "fixture_alpha");
	glass_sym_lookup(f, beta, 0, &fr); /* static: no symbol, and not alpha+offset */
	ck_assert_int_eq(fr.status, GLASS_SYM_NO_SYMBOL);
	ck_assert_ptr_null(fr.function);
	glass_sym_resolver_free(r);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpd);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(mismatched_build_id_gives_no_name_and_one_warning)
{
	char p[4200];
	path_of(p, sizeof(p), "fixture-syms.so");
	uint64_t alpha = vaddr_of("fixture-syms.so", "fixture_alpha", 0);
	nwarn = 0;
	struct glass_sym_resolver *r = glass_sym_resolver_new(on_warn, NULL);
	struct glass_sym_file *f =
	    glass_sym_file_get(r, p, "00112233445566778899aabbccddeeff00112233");
	struct glass_sym_frame fr;
	for (int i = 0; i < 3; i++) {
		glass_sym_lookup(f, alpha + (uint64_t)i, 1, &fr);
		ck_assert_int_eq(fr.status, GLASS_SYM_MISMATCH);
		ck_assert_ptr_null(fr.function);
		ck_assert_ptr_null(fr.file);
		ck_assert_uint_eq(fr.offset, alpha + (uint64_t)i); /* object+offset */
	}
	ck_assert_int_eq(nwarn, 1);
	ck_assert_ptr_nonnull(strstr(last_warn, "build-id"));
	glass_sym_resolver_free(r);
}
END_TEST

START_TEST(missing_and_malformed_files_resolve_nothing)
{
	char bad[4200];
	nwarn = 0;
	struct glass_sym_resolver *r = glass_sym_resolver_new(on_warn, NULL);
	struct glass_sym_frame fr;
	glass_sym_lookup(glass_sym_file_get(r, "/nonexistent/libgone.so", "abcd"), 0x1000, 1, &fr);
	ck_assert_int_eq(fr.status, GLASS_SYM_MISSING);
	ck_assert_int_eq(nwarn, 1);
	/* the first 200 bytes of a real ELF file: a header whose sections are cut off */
	char src[4200];
	path_of(src, sizeof(src), "fixture-syms.so");
	snprintf(bad, sizeof(bad), "%s/truncated.so", dir);
	FILE *in = fopen(src, "rb"), *out = fopen(bad, "wb");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	char buf[200];
	ck_assert_uint_eq(fread(buf, 1, sizeof(buf), in), sizeof(buf));
	fwrite(buf, 1, sizeof(buf), out);
	fclose(in);
	fclose(out);
	glass_sym_lookup(glass_sym_file_get(r, bad, NULL), 0x1000, 1, &fr);
	ck_assert_ptr_null(fr.function);
	glass_sym_resolver_free(r);
	unlink(bad);
}
END_TEST

int main(void)
{
	const char *d = getenv("GLASS_TEST_FIXTURES");
	snprintf(dir, sizeof(dir), "%s", d ? d : ".");
	Suite *s = suite_create("symbols");
	TCase *tc = tcase_create("resolve");
	tcase_add_test(tc, symtab_names_global_and_static_functions_with_lines);
	tcase_add_test(tc, stripped_object_finds_its_debug_file_by_debuglink);
	tcase_add_test(tc, stripped_object_alone_never_gives_a_wrong_name);
	tcase_add_test(tc, mismatched_build_id_gives_no_name_and_one_warning);
	tcase_add_test(tc, missing_and_malformed_files_resolve_nothing);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
