#!/usr/bin/python3
"""Applies RFC 6902 patches with python3-jsonpatch (an independent implementation).

stdin: a JSON list of {"doc": ..., "patch": [...]}; stdout: a JSON list of
{"result": patched doc} or {"error": why}. Besides applying cleanly, every op must be an "add" of
a path that did not exist, or an append ("/-") to an existing list.
"""
import json
import sys

import jsonpatch
import jsonpointer


def check_adds_only(doc, patch):
    current = doc
    for op in patch:
        if op.get("op") != "add":
            return "op %r is not add" % op.get("op")
        path = op["path"]
        parent_path, _, last = path.rpartition("/")
        parent = jsonpointer.resolve_pointer(current, parent_path, None)
        if last == "-":
            if not isinstance(parent, list):
                return "append to a non-list at %s" % path
        elif parent is None or not isinstance(parent, dict):
            return "parent of %s is missing or not an object" % path
        else:
            key = last.replace("~1", "/").replace("~0", "~")
            if key in parent and parent[key] is not None:
                return "path %s exists already" % path
        current = jsonpatch.apply_patch(current, [op])
    return None


def main():
    out = []
    for case in json.load(sys.stdin):
        try:
            problem = check_adds_only(case["doc"], case["patch"])
            if problem:
                out.append({"error": problem})
                continue
            out.append({"result": jsonpatch.apply_patch(case["doc"], case["patch"])})
        except Exception as e:  # report, never crash the test
            out.append({"error": "%s: %s" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
