/* policy/policy.h — which Python code objects to trace, from glimpse-policy.json or defaults. */
#ifndef GLASS_POLICY_H
#define GLASS_POLICY_H

#include <stddef.h>

/* The file every policy search looks for; docs/policy.md describes its keys. */
#define GLASS_POLICY_FILE_NAME "glimpse-policy.json"
/* Larger policy files are refused: a policy is a few lines, anything bigger is a mistake. */
#define GLASS_POLICY_MAX_SIZE (1024 * 1024)

struct glass_policy;

/*
 * Loads the policy file at path. On failure returns NULL and writes
 * "<path>:<line>:<col>: <what>" to err ("<path>: <what>" when the problem has no position, e.g.
 * the file cannot be read); no "glass:" prefix, no newline. Unknown keys are accepted with one
 * warning naming all of them, at the line:col of the first, written to warn ("" if none).
 * err and warn may be NULL when errlen/warnlen is 0.
 */
struct glass_policy *glass_policy_load(const char *path, char *err, size_t errlen, char *warn,
				       size_t warnlen);

/*
 * The policy used when there is no file: trace code whose file lies under one of roots[]
 * (absolute directories, e.g. the main script's directory and the cwd), except files under any
 * of exclude_prefixes[] (stdlib and site-packages directories) or whose path contains
 * "/site-packages/" or "/dist-packages/". Module __main__ is always traced; other code with a
 * filename starting with '<' ("<string>", "<frozen ...>") never is. NULL only when out of memory.
 */
struct glass_policy *glass_policy_default(const char *const *roots, size_t nroots,
					  const char *const *exclude_prefixes, size_t nexclude);

/*
 * Walks up from start_dir (inclusive) to / looking for "glimpse-policy.json" ($GLASS_POLICY is
 * the caller's business). Returns 1 and the path in out, 0 if none was found or the path does
 * not fit in outlen.
 */
int glass_policy_find(const char *start_dir, char *out, size_t outlen);

/* 1 = trace code of this module/file, 0 = don't. module and filename may be "" when unknown. */
int glass_policy_match(const struct glass_policy *p, const char *module, const char *filename);

/* Max traced depth (number of traced ancestors a traced call may have + 1); 0 = unlimited. */
unsigned glass_policy_trace_depth(const struct glass_policy *p);

/* One-line description for the recording's POLICY record; owned by p. */
const char *glass_policy_summary(const struct glass_policy *p);

/*
 * Generic accessors for capture options. key is a top-level key or a dotted path into nested
 * objects ("capture.args"). Each returns the value, or dflt when absent or of another type;
 * _int also takes true/false as 1/0, _double also takes integers.
 */
const char *glass_policy_option_str(const struct glass_policy *p, const char *key,
				    const char *dflt);
long long glass_policy_option_int(const struct glass_policy *p, const char *key, long long dflt);
double glass_policy_option_double(const struct glass_policy *p, const char *key, double dflt);

/*
 * The string items of an array option (top level, or one object deep as "capture.headers"):
 * returns their number and points *items at them (NULL when 0); non-string items are skipped.
 * The strings live as long as p.
 */
size_t glass_policy_option_list(const struct glass_policy *p, const char *key,
				const char *const **items);

/* Frees p and everything it returned; NULL is fine. */
void glass_policy_free(struct glass_policy *p);

#endif /* GLASS_POLICY_H */
