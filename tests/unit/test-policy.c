/* tests/unit/test-policy.c — what glimpse-policy.json means, and what happens without one. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/policy.h"

/* Each test gets a fresh directory; the fixture removes it again. Kept short of PATH_MAX so
 * paths built from it always fit. */
static char test_dir[1024];
static char policy_path[PATH_MAX];
static char err[1024];
static char warn[1024];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	remove(path);
	return 0;
}

static void setup(void)
{
	const char *base = getenv("GLASS_TEST_TMP");

	snprintf(test_dir, sizeof(test_dir), "%s/policy-XXXXXX", base && *base ? base : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(test_dir));
	/* Tests compare against real paths; the build dir may sit behind a symlink. */
	char *real = realpath(test_dir, NULL);
	ck_assert_ptr_nonnull(real);
	ck_assert_uint_lt(strlen(real), sizeof(test_dir));
	snprintf(test_dir, sizeof(test_dir), "%s", real);
	free(real);
	snprintf(policy_path, sizeof(policy_path), "%s/" GLASS_POLICY_FILE_NAME, test_dir);
	err[0] = warn[0] = '\0';
}

static void teardown(void)
{
	nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", test_dir, rel);
	ck_assert_int_eq(mkdir(path, 0700), 0);
}

static struct glass_policy *load_bytes(const void *data, size_t len)
{
	write_file(policy_path, data, len);
	return glass_policy_load(policy_path, err, sizeof(err), warn, sizeof(warn));
}

static struct glass_policy *load_json(const char *json)
{
	return load_bytes(json, strlen(json));
}

static struct glass_policy *load_ok(const char *json)
{
	struct glass_policy *p = load_json(json);

	ck_assert_msg(p != NULL, "load failed: %s", err);
	ck_assert_str_eq(err, "");
	return p;
}

/* THEN loading fails with "<path><suffix>", suffix being ":line:col: what". */
static void expect_error(const char *json, const char *suffix)
{
	char want[PATH_MAX + 512];

	ck_assert_ptr_null(load_json(json));
	snprintf(want, sizeof(want), "%s%s", policy_path, suffix);
	ck_assert_str_eq(err, want);
	ck_assert_str_eq(warn, "");
}

static int traced(const struct glass_policy *p, const char *module)
{
	return glass_policy_match(p, module, "");
}

/* ---- included_packages ---- */

START_TEST(exact_name_includes_the_module_and_its_submodules)
{
	/* GIVEN a policy including "myapp" */
	struct glass_policy *p = load_ok("{\"included_packages\": [\"myapp\"]}");

	/* THEN myapp and everything below it is traced */
	ck_assert_int_eq(traced(p, "myapp"), 1);
	ck_assert_int_eq(traced(p, "myapp.models"), 1);
	ck_assert_int_eq(traced(p, "myapp.models.user"), 1);
	/* AND names that merely start the same are not */
	ck_assert_int_eq(traced(p, "myapp2"), 0);
	ck_assert_int_eq(traced(p, "myapp_tools.x"), 0);
	ck_assert_int_eq(traced(p, "my"), 0);
	ck_assert_int_eq(traced(p, "xmyapp"), 0);
	ck_assert_int_eq(traced(p, "requests"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(dotted_exact_name_includes_only_that_subtree)
{
	/* GIVEN "shop.models" */
	struct glass_policy *p = load_ok("{\"included_packages\": [\"shop.models\"]}");

	/* THEN shop.models and below are traced, shop itself and its siblings are not */
	ck_assert_int_eq(traced(p, "shop.models"), 1);
	ck_assert_int_eq(traced(p, "shop.models.user"), 1);
	ck_assert_int_eq(traced(p, "shop"), 0);
	ck_assert_int_eq(traced(p, "shop.views"), 0);
	ck_assert_int_eq(traced(p, "shop.modelsx"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(star_spans_dots_and_includes_submodules)
{
	/* GIVEN "api_v*" */
	struct glass_policy *p = load_ok("{\"included_packages\": [\"api_v*\"]}");

	/* THEN what it matches and what lies below is traced */
	ck_assert_int_eq(traced(p, "api_v"), 1);
	ck_assert_int_eq(traced(p, "api_v2"), 1);
	ck_assert_int_eq(traced(p, "api_v2.routes"), 1);
	ck_assert_int_eq(traced(p, "api_v2.routes.users"), 1);
	ck_assert_int_eq(traced(p, "api_x"), 0);
	ck_assert_int_eq(traced(p, "xapi_v2"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(wildcard_suffix_includes_submodules_of_what_it_matches)
{
	/* GIVEN "*.models" */
	struct glass_policy *p = load_ok("{\"included_packages\": [\"*.models\"]}");

	/* THEN any models package, at any depth, and its submodules are traced */
	ck_assert_int_eq(traced(p, "shop.models"), 1);
	ck_assert_int_eq(traced(p, "shop.models.user"), 1);
	ck_assert_int_eq(traced(p, "a.b.models"), 1);
	ck_assert_int_eq(traced(p, "a.b.models.c.d"), 1);
	/* AND not a module merely called models, nor models-like names */
	ck_assert_int_eq(traced(p, "models"), 0);
	ck_assert_int_eq(traced(p, "shop.modelsx"), 0);
	ck_assert_int_eq(traced(p, "shop.modelsx.user"), 0);
	ck_assert_int_eq(traced(p, "shop.views"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(question_mark_and_brackets_follow_fnmatch)
{
	/* GIVEN ?, a set and a negated set */
	struct glass_policy *p = load_ok(
	    "{\"included_packages\": [\"app?\", \"api_v[12]\", \"svc_[!a-c]\", \"x[]]y\"]}");

	/* THEN ? is exactly one character */
	ck_assert_int_eq(traced(p, "app1"), 1);
	ck_assert_int_eq(traced(p, "app1.views"), 1);
	ck_assert_int_eq(traced(p, "app"), 0);
	ck_assert_int_eq(traced(p, "app12"), 0);
	/* AND [12] is one of the set */
	ck_assert_int_eq(traced(p, "api_v1"), 1);
	ck_assert_int_eq(traced(p, "api_v2.routes"), 1);
	ck_assert_int_eq(traced(p, "api_v3"), 0);
	/* AND [!a-c] is anything but the set */
	ck_assert_int_eq(traced(p, "svc_d"), 1);
	ck_assert_int_eq(traced(p, "svc_b"), 0);
	/* AND a ']' first in a set is literal */
	ck_assert_int_eq(traced(p, "x]y"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(star_alone_includes_everything)
{
	struct glass_policy *p = load_ok("{\"included_packages\": [\"*\"]}");

	ck_assert_int_eq(traced(p, "os"), 1);
	ck_assert_int_eq(traced(p, "importlib._bootstrap"), 1);
	glass_policy_free(p);
}
END_TEST

/* ---- excluded_packages ---- */

START_TEST(exclusion_wins_over_inclusion)
{
	/* GIVEN myapp included but myapp.tests and every *.migrations excluded */
	struct glass_policy *p =
	    load_ok("{\"included_packages\": [\"myapp\"],"
		    " \"excluded_packages\": [\"myapp.tests\", \"*.migrations\"]}");

	/* THEN excluded subtrees are not traced */
	ck_assert_int_eq(traced(p, "myapp.tests"), 0);
	ck_assert_int_eq(traced(p, "myapp.tests.test_user"), 0);
	ck_assert_int_eq(traced(p, "myapp.migrations"), 0);
	ck_assert_int_eq(traced(p, "myapp.db.migrations.0001"), 0);
	/* AND the rest of myapp is */
	ck_assert_int_eq(traced(p, "myapp"), 1);
	ck_assert_int_eq(traced(p, "myapp.testsuite"), 1);
	ck_assert_int_eq(traced(p, "myapp.models"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(exclusion_wins_over_main_and_project_roots)
{
	struct glass_policy *p =
	    load_ok("{\"project_root_packages\": [\"core\"],"
		    " \"auto_trace_subpackages\": true,"
		    " \"excluded_packages\": [\"core.vendor\", \"__main__\"]}");

	ck_assert_int_eq(traced(p, "core.db"), 1);
	ck_assert_int_eq(traced(p, "core.vendor.six"), 0);
	ck_assert_int_eq(traced(p, "__main__"), 0);
	glass_policy_free(p);
}
END_TEST

/* ---- project_root_packages ---- */

START_TEST(project_roots_are_exact_without_auto_trace_subpackages)
{
	/* GIVEN project roots and auto_trace_subpackages absent (false) */
	struct glass_policy *p = load_ok("{\"project_root_packages\": [\"core\", \"svc_?\"]}");

	/* THEN only the named modules themselves are traced */
	ck_assert_int_eq(traced(p, "core"), 1);
	ck_assert_int_eq(traced(p, "core.db"), 0);
	ck_assert_int_eq(traced(p, "svc_a"), 1);
	ck_assert_int_eq(traced(p, "svc_a.db"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(project_roots_include_submodules_with_auto_trace_subpackages)
{
	/* GIVEN the same roots with auto_trace_subpackages true */
	struct glass_policy *p = load_ok("{\"project_root_packages\": [\"core\", \"svc_?\"],"
					 " \"auto_trace_subpackages\": true}");

	/* THEN their submodules are traced too */
	ck_assert_int_eq(traced(p, "core"), 1);
	ck_assert_int_eq(traced(p, "core.db.session"), 1);
	ck_assert_int_eq(traced(p, "svc_a.db"), 1);
	ck_assert_int_eq(traced(p, "corex"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(included_and_project_roots_add_up)
{
	struct glass_policy *p = load_ok("{\"included_packages\": [\"lib\"],"
					 " \"project_root_packages\": [\"core\"]}");

	ck_assert_int_eq(traced(p, "lib.x"), 1);
	ck_assert_int_eq(traced(p, "core"), 1);
	ck_assert_int_eq(traced(p, "core.x"), 0);
	glass_policy_free(p);
}
END_TEST

/* ---- __main__, unknown modules, empty policies ---- */

START_TEST(main_is_traced_unless_include_main_is_false)
{
	/* GIVEN a policy that includes only myapp */
	struct glass_policy *p = load_ok("{\"included_packages\": [\"myapp\"]}");

	/* THEN the main script is traced, also as multiprocessing's spawn child sees it */
	ck_assert_int_eq(traced(p, "__main__"), 1);
	ck_assert_int_eq(traced(p, "__mp_main__"), 1);
	glass_policy_free(p);

	/* GIVEN include_main false, even with a pattern that would match it */
	p = load_ok("{\"included_packages\": [\"*\"], \"include_main\": false}");
	/* THEN main is not traced, the rest is */
	ck_assert_int_eq(traced(p, "__main__"), 0);
	ck_assert_int_eq(traced(p, "__mp_main__"), 0);
	ck_assert_int_eq(traced(p, "os"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(unknown_module_is_not_traced_by_a_file_policy)
{
	struct glass_policy *p = load_ok("{\"included_packages\": [\"*\"]}");

	/* WHEN the module is unknown THEN package rules cannot match, whatever the file */
	ck_assert_int_eq(glass_policy_match(p, "", "/app/main.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, NULL, "/app/main.py"), 0);
	/* AND the filename plays no part once the module is known */
	ck_assert_int_eq(glass_policy_match(p, "app", "<string>"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(policy_without_packages_traces_only_main)
{
	/* GIVEN a policy with neither included_packages nor project_root_packages */
	struct glass_policy *p = load_ok("{\"excluded_packages\": [\"x\"], \"trace_depth\": 3}");

	/* THEN only __main__ is traced, and the summary says so */
	ck_assert_int_eq(traced(p, "__main__"), 1);
	ck_assert_int_eq(traced(p, "myapp"), 0);
	ck_assert_ptr_nonnull(strstr(glass_policy_summary(p), "only __main__ is traced"));
	glass_policy_free(p);

	/* GIVEN empty lists and no __main__ THEN nothing at all */
	p = load_ok("{\"included_packages\": [], \"include_main\": false}");
	ck_assert_int_eq(traced(p, "__main__"), 0);
	ck_assert_ptr_nonnull(strstr(glass_policy_summary(p), "nothing is traced"));
	glass_policy_free(p);
}
END_TEST

START_TEST(null_values_mean_absent)
{
	struct glass_policy *p = load_ok("{\"included_packages\": null, \"trace_depth\": null,"
					 " \"include_main\": null, \"sample\": null}");

	ck_assert_int_eq(traced(p, "__main__"), 1);
	ck_assert_uint_eq(glass_policy_trace_depth(p), 0);
	ck_assert_double_eq(glass_policy_option_double(p, "sample", 0.5), 0.5);
	glass_policy_free(p);
}
END_TEST

/* ---- trace_depth and summary ---- */

START_TEST(trace_depth_zero_or_absent_is_unlimited)
{
	struct glass_policy *p = load_ok("{\"trace_depth\": 5}");

	ck_assert_uint_eq(glass_policy_trace_depth(p), 5);
	glass_policy_free(p);
	p = load_ok("{\"trace_depth\": 0}");
	ck_assert_uint_eq(glass_policy_trace_depth(p), 0);
	glass_policy_free(p);
	p = load_ok("{}");
	ck_assert_uint_eq(glass_policy_trace_depth(p), 0);
	glass_policy_free(p);
	p = load_ok("{\"trace_depth\": 4294967295}");
	ck_assert_uint_eq(glass_policy_trace_depth(p), 4294967295u);
	glass_policy_free(p);
}
END_TEST

START_TEST(summary_names_the_file_and_the_rules)
{
	char want[PATH_MAX + 256];
	struct glass_policy *p = load_ok("{\"included_packages\": [\"myapp\", \"api_v*\"],"
					 " \"excluded_packages\": [\"myapp.tests\"],"
					 " \"trace_depth\": 5}");

	snprintf(want, sizeof(want),
		 "file %s: include [myapp, api_v*] exclude [myapp.tests] depth 5", policy_path);
	ck_assert_str_eq(glass_policy_summary(p), want);
	glass_policy_free(p);

	p = load_ok("{\"project_root_packages\": [\"core\"], \"auto_trace_subpackages\": true,"
		    " \"include_main\": false}");
	snprintf(want, sizeof(want),
		 "file %s: project_root [core] with subpackages no __main__ depth unlimited",
		 policy_path);
	ck_assert_str_eq(glass_policy_summary(p), want);
	glass_policy_free(p);
}
END_TEST

/* ---- errors: each one names the place ---- */

START_TEST(invalid_json_reports_jansson_line_and_column)
{
	/* GIVEN a value missing on line 3 THEN the column is that of the offending '}' */
	expect_error("{\n  \"included_packages\": [\"a\"],\n  \"trace_depth\": }\n",
		     ":3:18: invalid JSON: unexpected token near '}'");
	/* GIVEN a missing comma THEN the next key is blamed (column of its last character) */
	expect_error("{\n  \"trace_depth\": 1\n  \"include_main\": true\n}\n",
		     ":3:16: invalid JSON: '}' expected near '\"include_main\"'");
	/* GIVEN a truncated file THEN the line after the last newline, column 1 */
	expect_error("{\n  \"trace_depth\": 1,\n",
		     ":3:1: invalid JSON: string or '}' expected near end of file");
	/* GIVEN an empty file */
	expect_error("", ":1:1: invalid JSON: '[' or '{' expected near end of file");
	/* GIVEN a duplicate key (JSON_REJECT_DUPLICATES) */
	expect_error("{\"trace_depth\": 1,\n \"trace_depth\": 2}",
		     ":2:14: invalid JSON: duplicate object key near '\"trace_depth\"'");
	/* GIVEN trailing garbage */
	expect_error("{}\nx", ":2:1: invalid JSON: end of file expected near 'x'");
}
END_TEST

START_TEST(top_level_must_be_an_object)
{
	expect_error("\n  [\"myapp\"]\n", ":2:3: the policy must be a JSON object, not an array");
}
END_TEST

START_TEST(wrong_type_points_at_the_key)
{
	/* GIVEN trace_depth as a string on line 3 */
	expect_error("{\n  \"included_packages\": [\"myapp\"],\n  \"trace_depth\": \"5\"\n}\n",
		     ":3:3: trace_depth must be a non-negative integer");
	/* AND the other ways of getting it wrong */
	expect_error("{\n\n    \"trace_depth\": -1}",
		     ":3:5: trace_depth must be a non-negative integer");
	expect_error("{\"trace_depth\": 2.5}", ":1:2: trace_depth must be a non-negative integer");
	expect_error("{\"trace_depth\": 4294967296}",
		     ":1:2: trace_depth must be a non-negative integer");
	expect_error("{\"a\": 1,\n\t\"included_packages\": \"myapp\"}",
		     ":2:2: included_packages must be an array of strings, not a string");
	expect_error("{\"excluded_packages\": {}}",
		     ":1:2: excluded_packages must be an array of strings, not an object");
	expect_error("{\"auto_trace_subpackages\": \"yes\"}",
		     ":1:2: auto_trace_subpackages must be true or false");
	expect_error("{\"include_main\": 1}", ":1:2: include_main must be true or false");
}
END_TEST

START_TEST(wrong_item_points_at_the_item)
{
	/* GIVEN a number as the second item, on line 3 */
	expect_error("{\n  \"included_packages\": [\"a\",\n     42]\n}",
		     ":3:6: included_packages must be an array of strings (item 2 is an integer)");
	expect_error(
	    "{\"project_root_packages\": [[\"a\"]]}",
	    ":1:28: project_root_packages must be an array of strings (item 1 is an array)");
}
END_TEST

START_TEST(bad_patterns_are_errors)
{
	/* GIVEN an unbalanced '[' */
	expect_error("{\"included_packages\": [\"ok\", \"api_v[12\"]}",
		     ":1:30: included_packages: pattern 'api_v[12' unknown wildcard syntax "
		     "(unbalanced '[')");
	expect_error("{\"excluded_packages\": [\"a[]\"]}",
		     ":1:24: excluded_packages: pattern 'a[]' unknown wildcard syntax "
		     "(unbalanced '[')");
	/* GIVEN a glibc-only character class */
	expect_error("{\"included_packages\": [\"[[:alpha:]]x\"]}",
		     ":1:24: included_packages: pattern '[[:alpha:]]x' unknown wildcard syntax "
		     "(no [: :], [. .] or [= =] classes)");
	/* GIVEN an empty pattern */
	expect_error("{\"included_packages\": [\n\"\"]}",
		     ":2:1: included_packages: empty pattern (item 1)");
	/* GIVEN an empty name segment */
	expect_error("{\"included_packages\": [\"myapp.\"]}",
		     ":1:24: included_packages: pattern 'myapp.' has an empty name segment "
		     "(a leading, trailing or double '.')");
	expect_error("{\"excluded_packages\": [\"a..b\"]}",
		     ":1:24: excluded_packages: pattern 'a..b' has an empty name segment "
		     "(a leading, trailing or double '.')");
	/* GIVEN whitespace, which no module name has */
	expect_error("{\"project_root_packages\": [\"my app\"]}",
		     ":1:28: project_root_packages: pattern 'my app' contains whitespace or a "
		     "control character");
}
END_TEST

/* "engine" picks how the preload sees activations: one of three words, checked at load. */
START_TEST(engine_is_one_of_three)
{
	const char *ok[] = {"auto", "eval", "monitoring"};
	for (size_t i = 0; i < 3; i++) {
		char json[64];
		snprintf(json, sizeof(json), "{\"engine\": \"%s\"}", ok[i]);
		struct glass_policy *p = load_ok(json);
		ck_assert_str_eq(glass_policy_option_str(p, "engine", "auto"), ok[i]);
		glass_policy_free(p);
	}
	expect_error("{\"engine\": \"pep523\"}",
		     ":1:2: engine must be \"auto\", \"eval\" or \"monitoring\"");
	expect_error("{\"engine\": 1}",
		     ":1:2: engine must be \"auto\", \"eval\" or \"monitoring\"");
}
END_TEST

START_TEST(capture_options_are_type_checked)
{
	expect_error("{\"capture\": []}", ":1:2: capture must be an object");
	expect_error("{\"sql_text\": \"fast\"}",
		     ":1:2: sql_text must be \"normalized\" or \"raw\"");
	expect_error("{\"sql_text\": 1}", ":1:2: sql_text must be \"normalized\" or \"raw\"");
	expect_error("{\"max_sql_length\": -1}",
		     ":1:2: max_sql_length must be a non-negative integer");
	expect_error("{\"max_string_length\": 1.5}",
		     ":1:2: max_string_length must be a non-negative integer");
	expect_error("{\"exclude_routes\": \"/health\"}",
		     ":1:2: exclude_routes must be an array of strings, not a string");
	expect_error("{\"redact\": [\"password\", true]}",
		     ":1:25: redact must be an array of strings (item 2 is a boolean)");
	expect_error("{\"http_headers\": [null]}",
		     ":1:19: http_headers must be an array of strings (item 1 is null)");
	expect_error("{\"sample\": 1.5}", ":1:2: sample must be a number from 0 to 1");
	expect_error("{\"sample\": -0.1}", ":1:2: sample must be a number from 0 to 1");
	expect_error("{\"sample\": \"0.5\"}", ":1:2: sample must be a number from 0 to 1");
	expect_error("{\"service_name\": 3}", ":1:2: service_name must be a string");
}
END_TEST

START_TEST(key_position_survives_tricky_text)
{
	/* GIVEN the key's text inside an earlier string value THEN the real key is found */
	expect_error("{\"service_name\": \"\\\"trace_depth\\\": \",\n \"trace_depth\": []}",
		     ":2:2: trace_depth must be a non-negative integer");
	/* GIVEN the same key nested in an object first */
	expect_error("{\"capture\": {\"trace_depth\": 1, \"x\": [1, {\"a\": \"]\"}]},\n"
		     "  \"trace_depth\": true}",
		     ":2:3: trace_depth must be a non-negative integer");
	/* GIVEN the key spelt with an escape */
	expect_error("{\"a\": 1,\n \"trace\\u005fdepth\": true}",
		     ":2:2: trace_depth must be a non-negative integer");
	/* GIVEN multi-byte characters before it THEN columns count characters */
	expect_error("{\"\xc3\xa9t\xc3\xa9\": 1, \"trace_depth\": -1}",
		     ":1:12: trace_depth must be a non-negative integer");
	/* GIVEN CRLF line ends */
	expect_error("{\r\n  \"a\": 1,\r\n  \"trace_depth\": -1\r\n}",
		     ":3:3: trace_depth must be a non-negative integer");
}
END_TEST

START_TEST(byte_order_mark_is_accepted_and_not_counted)
{
	struct glass_policy *p = load_ok("\xef\xbb\xbf{\"included_packages\": [\"a\"]}");

	ck_assert_int_eq(traced(p, "a"), 1);
	glass_policy_free(p);
	expect_error("\xef\xbb\xbf{\"trace_depth\": -1}",
		     ":1:2: trace_depth must be a non-negative integer");
}
END_TEST

START_TEST(unreadable_file_has_no_position)
{
	char want[PATH_MAX + 128];
	char path[PATH_MAX];

	/* GIVEN no file */
	snprintf(path, sizeof(path), "%s/missing.json", test_dir);
	ck_assert_ptr_null(glass_policy_load(path, err, sizeof(err), warn, sizeof(warn)));
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", path);
	ck_assert_str_eq(err, want);

	/* GIVEN a directory */
	ck_assert_ptr_null(glass_policy_load(test_dir, err, sizeof(err), warn, sizeof(warn)));
	snprintf(want, sizeof(want), "%s: cannot read: is a directory", test_dir);
	ck_assert_str_eq(err, want);

	/* GIVEN a FIFO THEN it is refused without blocking on it */
	snprintf(path, sizeof(path), "%s/fifo", test_dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_ptr_null(glass_policy_load(path, err, sizeof(err), warn, sizeof(warn)));
	snprintf(want, sizeof(want), "%s: cannot read: not a regular file", path);
	ck_assert_str_eq(err, want);

	/* GIVEN a file without read permission (root reads it anyway) */
	if (geteuid() != 0) {
		write_file(policy_path, "{}", 2);
		chmod(policy_path, 0);
		ck_assert_ptr_null(
		    glass_policy_load(policy_path, err, sizeof(err), warn, sizeof(warn)));
		snprintf(want, sizeof(want), "%s: cannot read: Permission denied", policy_path);
		ck_assert_str_eq(err, want);
	}
}
END_TEST

START_TEST(one_mebibyte_is_the_limit)
{
	size_t n = GLASS_POLICY_MAX_SIZE + 1;
	char *big = malloc(n);
	char want[PATH_MAX + 128];
	struct glass_policy *p;

	ck_assert_ptr_nonnull(big);
	/* GIVEN a valid policy padded to exactly 1 MiB THEN it loads */
	memset(big, ' ', n);
	memcpy(big, "{\"trace_depth\": 7}", 18);
	big[n - 2] = '\n';
	p = load_bytes(big, n - 1);
	ck_assert_msg(p != NULL, "%s", err);
	ck_assert_uint_eq(glass_policy_trace_depth(p), 7);
	glass_policy_free(p);

	/* GIVEN one byte more THEN it is refused, with no position */
	ck_assert_ptr_null(load_bytes(big, n));
	snprintf(want, sizeof(want), "%s: larger than 1 MiB; a policy file is much smaller",
		 policy_path);
	ck_assert_str_eq(err, want);
	free(big);
}
END_TEST

START_TEST(nul_bytes_are_refused_at_their_place)
{
	static const char text[] = "{\n  \"a\": 1,\0\n}";
	char want[PATH_MAX + 128];

	ck_assert_ptr_null(load_bytes(text, sizeof(text) - 1));
	snprintf(want, sizeof(want), "%s:2:10: NUL byte: not a text file", policy_path);
	ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(control_characters_never_reach_the_message)
{
	/* GIVEN an unknown key with an escape sequence in it */
	struct glass_policy *p = load_ok("{\"\\u001b[31mred\": 1}");
	char want[PATH_MAX + 128];

	snprintf(want, sizeof(want), "%s:1:2: unknown key '?[31mred' ignored", policy_path);
	ck_assert_str_eq(warn, want);
	glass_policy_free(p);
}
END_TEST

START_TEST(errors_fit_small_buffers)
{
	char small[8];

	/* GIVEN a short buffer THEN the message is cut, still terminated */
	write_file(policy_path, "[]", 2);
	ck_assert_ptr_null(glass_policy_load(policy_path, small, sizeof(small), NULL, 0));
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	/* AND no buffers at all is fine too */
	ck_assert_ptr_null(glass_policy_load(policy_path, NULL, 0, NULL, 0));
}
END_TEST

/* ---- warnings ---- */

START_TEST(unknown_keys_give_one_warning)
{
	char want[PATH_MAX + 128];
	struct glass_policy *p;

	/* GIVEN one unknown key on line 3 THEN one warning at it, and the policy loads */
	p = load_ok("{\n  \"included_packages\": [\"a\"],\n  \"foo\": 1\n}");
	snprintf(want, sizeof(want), "%s:3:3: unknown key 'foo' ignored", policy_path);
	ck_assert_str_eq(warn, want);
	ck_assert_int_eq(traced(p, "a"), 1);
	glass_policy_free(p);

	/* GIVEN several THEN one warning naming all, in file order, at the first */
	p = load_ok("{\"trace_depth\": 1,\n \"zeta\": 1, \"alpha\": [], \"version\": \"1.0\"}");
	snprintf(want, sizeof(want), "%s:2:2: unknown keys 'zeta', 'alpha', 'version' ignored",
		 policy_path);
	ck_assert_str_eq(warn, want);
	glass_policy_free(p);
}
END_TEST

START_TEST(known_keys_give_no_warning)
{
	struct glass_policy *p = load_ok(
	    "{\"included_packages\": [\"a\"], \"excluded_packages\": [\"b\"],"
	    " \"project_root_packages\": [\"c\"], \"auto_trace_subpackages\": false,"
	    " \"trace_depth\": 2, \"include_main\": true, \"capture\": {\"args\": true},"
	    " \"sql_text\": \"normalized\", \"max_sql_length\": 100, \"max_string_length\": 0,"
	    " \"exclude_routes\": [\"/health\"], \"sample\": 1, \"redact\": [\"token\"],"
	    " \"http_headers\": [\"x-request-id\"], \"service_name\": \"shop\"}");

	ck_assert_str_eq(warn, "");
	glass_policy_free(p);
}
END_TEST

/* ---- options ---- */

START_TEST(option_accessors_return_values_or_defaults)
{
	struct glass_policy *p = load_ok(
	    "{\"sql_text\": \"raw\", \"max_sql_length\": 200, \"sample\": 0.25,"
	    " \"service_name\": \"shop\", \"capture\": {\"args\": true, \"level\": \"full\","
	    " \"limit\": 3, \"deep\": {\"x\": \"y\"}}, \"extra\": 2}");

	/* THEN values of the asked type come back */
	ck_assert_str_eq(glass_policy_option_str(p, "sql_text", "normalized"), "raw");
	ck_assert_str_eq(glass_policy_option_str(p, "service_name", NULL), "shop");
	ck_assert_int_eq(glass_policy_option_int(p, "max_sql_length", 1000), 200);
	ck_assert_double_eq(glass_policy_option_double(p, "sample", 1.0), 0.25);
	/* AND an integer is a number, a boolean an int */
	ck_assert_double_eq(glass_policy_option_double(p, "max_sql_length", 0), 200.0);
	ck_assert_int_eq(glass_policy_option_int(p, "capture.args", 0), 1);
	/* AND dotted paths reach into objects */
	ck_assert_str_eq(glass_policy_option_str(p, "capture.level", "x"), "full");
	ck_assert_int_eq(glass_policy_option_int(p, "capture.limit", 0), 3);
	ck_assert_str_eq(glass_policy_option_str(p, "capture.deep.x", "?"), "y");
	/* AND absent or other types give the default */
	ck_assert_str_eq(glass_policy_option_str(p, "missing", "d"), "d");
	ck_assert_ptr_null(glass_policy_option_str(p, "max_sql_length", NULL));
	ck_assert_int_eq(glass_policy_option_int(p, "sample", -1), -1);
	ck_assert_int_eq(glass_policy_option_int(p, "sql_text", -1), -1);
	ck_assert_double_eq(glass_policy_option_double(p, "sql_text", 0.5), 0.5);
	ck_assert_int_eq(glass_policy_option_int(p, "capture.missing", 9), 9);
	ck_assert_int_eq(glass_policy_option_int(p, "sql_text.x", 9), 9);
	ck_assert_int_eq(glass_policy_option_int(p, "capture.", 9), 9);
	ck_assert_int_eq(glass_policy_option_int(p, NULL, 9), 9);
	/* AND options that are no capture option still read */
	ck_assert_int_eq(glass_policy_option_int(p, "extra", 0), 2);
	glass_policy_free(p);
}
END_TEST

START_TEST(option_list_returns_string_items)
{
	const char *const *items = (const char *const *)1;
	struct glass_policy *p =
	    load_ok("{\"exclude_routes\": [\"/health\", \"/metrics\"], \"redact\": [],"
		    " \"mixed\": [\"a\", 1, \"b\", null], \"capture\": {\"headers\": [\"x-id\"]}}");

	ck_assert_uint_eq(glass_policy_option_list(p, "exclude_routes", &items), 2);
	ck_assert_str_eq(items[0], "/health");
	ck_assert_str_eq(items[1], "/metrics");
	/* non-string items are skipped */
	ck_assert_uint_eq(glass_policy_option_list(p, "mixed", &items), 2);
	ck_assert_str_eq(items[0], "a");
	ck_assert_str_eq(items[1], "b");
	/* one object deep */
	ck_assert_uint_eq(glass_policy_option_list(p, "capture.headers", &items), 1);
	ck_assert_str_eq(items[0], "x-id");
	/* empty, absent and non-array give 0 and NULL */
	ck_assert_uint_eq(glass_policy_option_list(p, "redact", &items), 0);
	ck_assert_ptr_null(items);
	ck_assert_uint_eq(glass_policy_option_list(p, "http_headers", &items), 0);
	ck_assert_ptr_null(items);
	ck_assert_uint_eq(glass_policy_option_list(p, "capture", &items), 0);
	ck_assert_uint_eq(glass_policy_option_list(p, "exclude_routes", NULL), 2);
	glass_policy_free(p);
}
END_TEST

/* ---- the default policy ---- */

static struct glass_policy *default_policy(void)
{
	static const char *const roots[] = {"/proj/app/", "/work"};
	static const char *const skip[] = {"/usr/lib/python3.11", "/proj/app/vendor"};

	return glass_policy_default(roots, 2, skip, 2);
}

START_TEST(default_traces_files_under_the_roots)
{
	struct glass_policy *p = default_policy();

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(glass_policy_match(p, "app", "/proj/app/app.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "", "/proj/app/pkg/mod.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "tool", "/work/tool.py"), 1);
	/* a sibling directory with a longer name is not under the root */
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj/application/x.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "x", "/workshop/x.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "os", "/other/os.py"), 0);
	ck_assert_uint_eq(glass_policy_trace_depth(p), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_skips_excluded_prefixes_and_installed_packages)
{
	struct glass_policy *p = default_policy();

	/* GIVEN files under a root but also under an exclude prefix THEN exclusion wins */
	ck_assert_int_eq(glass_policy_match(p, "six", "/proj/app/vendor/six.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "os", "/usr/lib/python3.11/os.py"), 0);
	/* AND any site-packages or dist-packages directory is skipped, even inside a root */
	ck_assert_int_eq(
	    glass_policy_match(p, "requests",
			       "/proj/app/.venv/lib/python3.11/site-packages/requests/api.py"),
	    0);
	ck_assert_int_eq(glass_policy_match(p, "apt", "/work/dist-packages/apt/x.py"), 0);
	/* AND a directory merely named like them is not */
	ck_assert_int_eq(glass_policy_match(p, "m", "/work/my-site-packages/m.py"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_handles_main_and_pseudo_files)
{
	struct glass_policy *p = default_policy();

	/* __main__ is always traced, wherever and whatever its file */
	ck_assert_int_eq(glass_policy_match(p, "__main__", "<string>"), 1);
	ck_assert_int_eq(glass_policy_match(p, "__main__", "/usr/lib/python3.11/runpy.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "__main__", ""), 1);
	/* other code from "<...>" files never is */
	ck_assert_int_eq(glass_policy_match(p, "app", "<string>"), 0);
	ck_assert_int_eq(
	    glass_policy_match(p, "importlib._bootstrap", "<frozen importlib._bootstrap>"), 0);
	/* nor code with no or a relative filename */
	ck_assert_int_eq(glass_policy_match(p, "app", ""), 0);
	ck_assert_int_eq(glass_policy_match(p, "app", NULL), 0);
	ck_assert_int_eq(glass_policy_match(p, "app", "app.py"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_cleans_paths_before_comparing)
{
	struct glass_policy *p = default_policy();

	/* sys.path entries with ".." give filenames with ".." */
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj/app/../other/x.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj/other/../app/x.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj//app/./x.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj/app/vendor/../x.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "x", "/proj/app/../app/vendor/x.py"), 0);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_root_slash_covers_everything_but_exclusions)
{
	static const char *const roots[] = {"/", "relative/ignored", NULL};
	static const char *const skip[] = {"/usr/lib/python3.11/"};
	struct glass_policy *p = glass_policy_default(roots, 3, skip, 1);

	ck_assert_int_eq(glass_policy_match(p, "x", "/anything/x.py"), 1);
	ck_assert_int_eq(glass_policy_match(p, "os", "/usr/lib/python3.11/os.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "x", "relative/ignored/x.py"), 0);
	glass_policy_free(p);

	/* GIVEN no roots at all THEN only __main__ */
	p = glass_policy_default(NULL, 0, NULL, 0);
	ck_assert_int_eq(glass_policy_match(p, "x", "/anything/x.py"), 0);
	ck_assert_int_eq(glass_policy_match(p, "__main__", "/anything/x.py"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_root_behind_a_symlink_matches_both_spellings)
{
	char real[PATH_MAX], link[PATH_MAX], file[PATH_MAX + 16];
	const char *roots[1];
	struct glass_policy *p;

	/* GIVEN a root given through a symlink */
	make_dir("real");
	snprintf(real, sizeof(real), "%s/real", test_dir);
	snprintf(link, sizeof(link), "%s/link", test_dir);
	ck_assert_int_eq(symlink(real, link), 0);
	roots[0] = link;
	p = glass_policy_default(roots, 1, NULL, 0);

	/* THEN files spelt either way are under it */
	snprintf(file, sizeof(file), "%s/x.py", link);
	ck_assert_int_eq(glass_policy_match(p, "x", file), 1);
	snprintf(file, sizeof(file), "%s/x.py", real);
	ck_assert_int_eq(glass_policy_match(p, "x", file), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(default_summary_lists_roots_and_exclusions)
{
	struct glass_policy *p = default_policy();

	ck_assert_str_eq(glass_policy_summary(p),
			 "default: files under [/proj/app, /work] except under "
			 "[/usr/lib/python3.11, /proj/app/vendor], */site-packages/* and "
			 "*/dist-packages/*; __main__ always; depth unlimited");
	/* AND it has no options */
	ck_assert_int_eq(glass_policy_option_int(p, "max_sql_length", 42), 42);
	ck_assert_uint_eq(glass_policy_option_list(p, "redact", NULL), 0);
	glass_policy_free(p);
}
END_TEST

/* ---- finding the file ---- */

static void put_policy(const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/" GLASS_POLICY_FILE_NAME, test_dir, rel);
	write_file(path, "{}", 2);
}

static void expect_found(const char *start_rel, const char *found_rel)
{
	char start[PATH_MAX], want[PATH_MAX], out[PATH_MAX];

	snprintf(start, sizeof(start), "%s/%s", test_dir, start_rel);
	snprintf(want, sizeof(want), "%s/%s/" GLASS_POLICY_FILE_NAME, test_dir, found_rel);
	ck_assert_int_eq(glass_policy_find(start, out, sizeof(out)), 1);
	ck_assert_str_eq(out, want);
}

START_TEST(find_walks_up_to_the_nearest_file)
{
	/* GIVEN a/b/c with a policy in a */
	make_dir("a");
	make_dir("a/b");
	make_dir("a/b/c");
	put_policy("a");
	/* THEN starting from c, b or a finds a's */
	expect_found("a/b/c", "a");
	expect_found("a/b", "a");
	expect_found("a", "a");
	/* GIVEN another policy in c THEN the start directory itself counts, nearest wins */
	put_policy("a/b/c");
	expect_found("a/b/c", "a/b/c");
	expect_found("a/b", "a");
	/* AND an unclean start path is walked as the real directory */
	expect_found("a/b/c/../c/./", "a/b/c");
}
END_TEST

START_TEST(find_skips_directories_named_like_the_file)
{
	make_dir("a");
	make_dir("a/b");
	put_policy("a");
	make_dir("a/b/" GLASS_POLICY_FILE_NAME);
	expect_found("a/b", "a");
}
END_TEST

START_TEST(find_reports_nothing_outside_the_tree_when_absent)
{
	char start[PATH_MAX], out[PATH_MAX];

	/* GIVEN no policy in the tree THEN any file found lies above the test directory */
	make_dir("a");
	snprintf(start, sizeof(start), "%s/a", test_dir);
	if (glass_policy_find(start, out, sizeof(out)))
		ck_assert(strncmp(out, test_dir, strlen(test_dir)) != 0);
	else
		ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(find_handles_relative_missing_and_short_buffers)
{
	char cwd[PATH_MAX], out[PATH_MAX], want[PATH_MAX];
	char tiny[8];

	make_dir("a");
	make_dir("a/b");
	put_policy("a");
	snprintf(want, sizeof(want), "%s/a/" GLASS_POLICY_FILE_NAME, test_dir);

	/* GIVEN a relative start directory THEN it is taken from the cwd */
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	snprintf(out, sizeof(out), "%s/a", test_dir);
	ck_assert_int_eq(chdir(out), 0);
	ck_assert_int_eq(glass_policy_find("b", out, sizeof(out)), 1);
	ck_assert_str_eq(out, want);
	/* AND a start directory that does not exist is walked up as spelt */
	ck_assert_int_eq(glass_policy_find("b/missing/deeper", out, sizeof(out)), 1);
	ck_assert_str_eq(out, want);
	ck_assert_int_eq(chdir(cwd), 0);

	/* GIVEN a buffer too small for the path THEN not found, rather than cut */
	snprintf(out, sizeof(out), "%s/a/b", test_dir);
	ck_assert_int_eq(glass_policy_find(out, tiny, sizeof(tiny)), 0);
	ck_assert_str_eq(tiny, "");
	ck_assert_int_eq(glass_policy_find("", out, sizeof(out)), 0);
	ck_assert_int_eq(glass_policy_find(NULL, out, sizeof(out)), 0);
}
END_TEST

START_TEST(found_file_loads)
{
	char out[PATH_MAX];
	struct glass_policy *p;
	static const char text[] = "{\"included_packages\": [\"found\"]}";

	make_dir("a");
	snprintf(out, sizeof(out), "%s/a", test_dir);
	write_file(policy_path, text, sizeof(text) - 1);
	/* out is both the start and the result: the caller may reuse its buffer */
	ck_assert_int_eq(glass_policy_find(out, out, sizeof(out)), 1);
	ck_assert_str_eq(out, policy_path);
	p = glass_policy_load(out, err, sizeof(err), warn, sizeof(warn));
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(traced(p, "found.x"), 1);
	glass_policy_free(p);
}
END_TEST

START_TEST(errno_is_left_as_the_host_had_it)
{
	char out[PATH_MAX];
	struct glass_policy *p, *d;

	/* GIVEN calls that fail inside (missing files, realpath of missing roots) */
	static const char *const roots[] = {"/nonexistent/root"};

	errno = EXDEV;
	ck_assert_ptr_null(glass_policy_load("/nonexistent/x.json", err, sizeof(err), NULL, 0));
	ck_assert_int_eq(errno, EXDEV);
	d = glass_policy_default(roots, 1, NULL, 0);
	ck_assert_int_eq(errno, EXDEV);
	ck_assert_int_eq(glass_policy_match(d, "x", "/nonexistent/root/x.py"), 1);
	ck_assert_int_eq(errno, EXDEV);
	glass_policy_find("/nonexistent/dir", out, sizeof(out));
	ck_assert_int_eq(errno, EXDEV);
	p = load_ok("{\"included_packages\": [\"a*\"]}");
	errno = EXDEV;
	ck_assert_int_eq(traced(p, "ab.c"), 1);
	ck_assert_int_eq(errno, EXDEV);
	glass_policy_free(p);
	glass_policy_free(d);
}
END_TEST

START_TEST(null_policy_is_harmless)
{
	glass_policy_free(NULL);
	ck_assert_int_eq(glass_policy_match(NULL, "a", "/a.py"), 0);
	ck_assert_uint_eq(glass_policy_trace_depth(NULL), 0);
	ck_assert_str_eq(glass_policy_summary(NULL), "");
	ck_assert_str_eq(glass_policy_option_str(NULL, "k", "d"), "d");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc;

	tc = tcase_create("match");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, exact_name_includes_the_module_and_its_submodules);
	tcase_add_test(tc, dotted_exact_name_includes_only_that_subtree);
	tcase_add_test(tc, star_spans_dots_and_includes_submodules);
	tcase_add_test(tc, wildcard_suffix_includes_submodules_of_what_it_matches);
	tcase_add_test(tc, question_mark_and_brackets_follow_fnmatch);
	tcase_add_test(tc, star_alone_includes_everything);
	tcase_add_test(tc, exclusion_wins_over_inclusion);
	tcase_add_test(tc, exclusion_wins_over_main_and_project_roots);
	tcase_add_test(tc, project_roots_are_exact_without_auto_trace_subpackages);
	tcase_add_test(tc, project_roots_include_submodules_with_auto_trace_subpackages);
	tcase_add_test(tc, included_and_project_roots_add_up);
	tcase_add_test(tc, main_is_traced_unless_include_main_is_false);
	tcase_add_test(tc, unknown_module_is_not_traced_by_a_file_policy);
	tcase_add_test(tc, policy_without_packages_traces_only_main);
	tcase_add_test(tc, null_values_mean_absent);
	tcase_add_test(tc, trace_depth_zero_or_absent_is_unlimited);
	tcase_add_test(tc, summary_names_the_file_and_the_rules);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, invalid_json_reports_jansson_line_and_column);
	tcase_add_test(tc, top_level_must_be_an_object);
	tcase_add_test(tc, wrong_type_points_at_the_key);
	tcase_add_test(tc, wrong_item_points_at_the_item);
	tcase_add_test(tc, bad_patterns_are_errors);
	tcase_add_test(tc, capture_options_are_type_checked);
	tcase_add_test(tc, engine_is_one_of_three);
	tcase_add_test(tc, key_position_survives_tricky_text);
	tcase_add_test(tc, byte_order_mark_is_accepted_and_not_counted);
	tcase_add_test(tc, unreadable_file_has_no_position);
	tcase_add_test(tc, one_mebibyte_is_the_limit);
	tcase_add_test(tc, nul_bytes_are_refused_at_their_place);
	tcase_add_test(tc, control_characters_never_reach_the_message);
	tcase_add_test(tc, errors_fit_small_buffers);
	tcase_add_test(tc, unknown_keys_give_one_warning);
	tcase_add_test(tc, known_keys_give_no_warning);
	suite_add_tcase(s, tc);

	tc = tcase_create("options");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, option_accessors_return_values_or_defaults);
	tcase_add_test(tc, option_list_returns_string_items);
	suite_add_tcase(s, tc);

	tc = tcase_create("default");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, default_traces_files_under_the_roots);
	tcase_add_test(tc, default_skips_excluded_prefixes_and_installed_packages);
	tcase_add_test(tc, default_handles_main_and_pseudo_files);
	tcase_add_test(tc, default_cleans_paths_before_comparing);
	tcase_add_test(tc, default_root_slash_covers_everything_but_exclusions);
	tcase_add_test(tc, default_root_behind_a_symlink_matches_both_spellings);
	tcase_add_test(tc, default_summary_lists_roots_and_exclusions);
	suite_add_tcase(s, tc);

	tc = tcase_create("find");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, find_walks_up_to_the_nearest_file);
	tcase_add_test(tc, find_skips_directories_named_like_the_file);
	tcase_add_test(tc, find_reports_nothing_outside_the_tree_when_absent);
	tcase_add_test(tc, find_handles_relative_missing_and_short_buffers);
	tcase_add_test(tc, found_file_loads);
	tcase_add_test(tc, errno_is_left_as_the_host_had_it);
	tcase_add_test(tc, null_policy_is_harmless);
	suite_add_tcase(s, tc);

	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_SILENT);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
