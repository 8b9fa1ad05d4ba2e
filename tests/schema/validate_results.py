#!/usr/bin/env python3
"""Validates results files against docs/results.schema.json (JSON Schema 2020-12).

Usage: validate_results.py SCHEMA RESULTS.json [RESULTS.json ...]

Two passes per file: the schema as published (what readers may rely on), then a strict copy
in which every object that lists its properties admits no others, so a field the writer emits
but the schema does not document fails here instead of going unnoticed. Exits 1 on any error,
printing each with its JSON path; 2 when python3-jsonschema is missing.
"""
import copy
import json
import sys

try:
    from jsonschema import Draft202012Validator
except ImportError:
    print("validate_results.py: python3-jsonschema is missing (apt-get install python3-jsonschema)", file=sys.stderr)
    sys.exit(2)


def strict(schema):
    out = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(out)
    return out


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    Draft202012Validator.check_schema(schema)
    validators = [("schema", Draft202012Validator(schema)), ("strict schema", Draft202012Validator(strict(schema)))]
    failed = 0
    for path in argv[2:]:
        with open(path) as f:
            doc = json.load(f)
        if not doc.get("cells"):
            print(f"{path}: no cells to validate")
            failed += 1
        for name, validator in validators:
            for err in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
                where = "/".join(str(p) for p in err.absolute_path) or "(top)"
                print(f"{path}: {name}: {where}: {err.message}")
                failed += 1
    print(f"validate_results: {len(argv) - 2} file(s), {failed} error(s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
