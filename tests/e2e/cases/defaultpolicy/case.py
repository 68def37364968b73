"""Default policy (no policy file): the user's functions, no standard library."""

from glasstest import check


def case_default_policy(t):
    # GIVEN a program calling json.dumps (pure-Python encoder) with its own default= function
    runs = t.run_both([t.python, "app.py"])
    check(runs.plain.stdout == "2 points\n", "program output")
    rep = t.report(runs.traced)
    # THEN its own functions are spans
    rep.expect_names({"main": 1, "build_payload": 1, "encode_obj": 2, "Point.__init__": 2})
    # AND json's do not (nor anything else of the standard library or the import system)
    for s in rep.spans:
        check(not s.module.startswith(("json", "importlib", "encodings", "codecs")),
              f"standard-library span under the default policy: {s.short()}")
        check(not s.file.startswith((t.target.stdlib, "<frozen")),
              f"standard-library span under the default policy: {s.short()} ({s.file})")
    # AND encode_obj, called from json's code, hangs under the nearest traced caller
    rep.expect_parent("encode_obj", "build_payload")
