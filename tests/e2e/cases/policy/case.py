"""Policy: included/excluded packages with wildcards, and trace_depth."""

from collections import Counter

from glasstest import CaseFailure, check, eq

# Code run once at import: module bodies and class bodies. Whether the policy's packages record
# them is not what these cases are about.
IMPORT_TIME = {"<module>", "Cart", "Product"}

EXPECTED = Counter({
    ("__main__", "main"): 1,  # include_main is true unless the policy says otherwise
    ("shop.cart", "Cart.__init__"): 1,
    ("shop.cart", "Cart.add"): 2,
    ("shop.cart", "Cart.total"): 2,
    ("shop.cart", "apply_discount"): 2,
    ("shop.models.product", "Product.__init__"): 2,
    ("shop.models.product", "Product.price_with_tax"): 4,
    ("shop.models.product", "_tax_rate"): 4,
    ("api_v1", "handle"): 1,
    ("api_v1", "_reply"): 1,
    ("api_v2", "handle"): 1,
    ("api_v2", "_reply"): 1,
    ("shop.chain", "level1"): 1,
    ("shop.chain", "level2"): 1,
    ("shop.chain", "level3"): 1,
    ("shop.chain", "level4"): 1,
})
OUTPUT = ("total 23.76\nv1 ping\nv2 ping\n<23.76>\ncheck ok\nchain 6\n")


def traced(rep):
    return Counter((s.module, s.name) for s in rep.functions() if s.name not in IMPORT_TIME)


def no_excluded(rep, main):
    allowed = ("shop", "api_v1", "api_v2") + (("__main__",) if main else ())
    for s in rep.spans:
        check(s.module.split(".")[0] in allowed and not s.module.startswith("shop.tests"),
              f"span of a module outside the policy: {s.short()}")


def case_included_excluded(t):
    # GIVEN glimpse-policy.json: included ["shop", "api_v*"], excluded ["shop.tests"]
    runs = t.run_both([t.python, "main.py"], cwd=t.workdir / "project")
    eq(runs.plain.stdout, OUTPUT, "program output")
    rep = t.report(runs.traced)
    # THEN exactly the functions of shop.*, api_v1, api_v2 and the main script are traced:
    # not vendor_lib, shop.tests, nor the standard library
    got = traced(rep)
    if got != EXPECTED:
        raise CaseFailure(f"traced functions differ: missing {dict(EXPECTED - got)}, "
                          f"unexpected {dict(got - EXPECTED)}\n" + rep.listing())
    no_excluded(rep, main=True)
    # AND a traced function called through untraced code has the nearest traced caller as parent
    rep.expect_parent("apply_discount", "Cart.total")
    rep.expect_parent("Product.price_with_tax", "Cart.total")
    rep.expect_parent("_reply", "handle")
    rep.expect_parent("Cart.total", "main")


def case_trace_depth(t):
    # GIVEN GLASS_POLICY naming the same policy with "trace_depth": 2 and "include_main": false
    # (it wins over the project's glimpse-policy.json)
    policy = t.workdir / "depth2.json"
    runs = t.run_both([t.python, "main.py"], cwd=t.workdir / "project",
                      glass_env={"GLASS_POLICY": str(policy)})
    eq(runs.plain.stdout, OUTPUT, "program output")
    rep = t.report(runs.traced)
    got = traced(rep)
    # THEN spans nest at most 2 deep: level1 > level2 stay, level3 and level4 go
    for key in (("shop.chain", "level1"), ("shop.chain", "level2"), ("api_v1", "_reply"),
                ("shop.models.product", "Product.price_with_tax")):
        eq(got.get(key, 0), EXPECTED[key], f"spans of {key}")
    for key in (("shop.chain", "level3"), ("shop.chain", "level4"),
                ("shop.models.product", "_tax_rate")):
        eq(got.get(key, 0), 0, f"spans of {key} (deeper than 2)")
    for s in rep.functions():
        check(len(rep.chain(s)) <= 2, "nesting deeper than trace_depth 2: "
              + " > ".join(rep.chain(s)))
        check(s.depth <= 1, f"depth {s.depth} > 1 (0 is a root): {s.short()}")
    eq(got.get(("__main__", "main"), 0), 0, "spans of main (include_main false)")
    no_excluded(rep, main=False)
    # AND the spans kept have their traced callers as parents
    rep.expect_parent("level2", "level1")
    rep.expect_parent("Product.price_with_tax", "Cart.total")
