#!/usr/bin/env python3
"""Regenerates sushi-mutations.jsonl: single edits of the COUNTER R5.1 samples, each labelled valid/invalid
by ajv 8 (JSON Schema 2020-12 with ajv-formats) and cross-checked with python-jsonschema when it is installed.

Not run by the build or CI; run it by hand when the spec or the samples in ../shared/data/counter change:

    mkdir -p /tmp/ajv && (cd /tmp/ajv && npm install ajv@8 ajv-formats@3)
    python3 tests/Tally.Server.Tests/Sushi/make_mutations.py /tmp/ajv

SushiSchemaTests.Agrees_with_ajv_on_labelled_mutations_of then checks the C# validator against these labels.
Lines: {"sample", "op": set|del|ren, "path": JSON Pointer, "value"?, "valid"}. Samples are first given the
spec's registry domain (see SushiSchemaTests.SampleRegistry). Same seeds, same inputs: same file.
"""
import copy, glob, json, os, random, subprocess, sys, tempfile, collections

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
COUNTER = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "counter"))
SPEC = os.path.join(COUNTER, "COUNTER_SUSHI_API_5.1.json")
OUT = os.path.join(HERE, "sushi-mutations.jsonl")
PER_SAMPLE_VALID, PER_SAMPLE_INVALID, CANDIDATES = 20, 30, 400

AJV = r"""
const Ajv2020 = require("ajv/dist/2020").default, addFormats = require("ajv-formats"), fs = require("fs");
const spec = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const ajv = new Ajv2020({ strict: false, unicodeRegExp: false }); addFormats(ajv);
ajv.addSchema({ $id: "sushi", $defs: JSON.parse(JSON.stringify(spec.components.schemas).replaceAll("#/components/schemas/", "#/$defs/")) });
const cache = {}, get = n => cache[n] || (cache[n] = ajv.compile({ $ref: "sushi#/$defs/" + n }));
const out = fs.readFileSync(process.argv[3], "utf8").split("\n").filter(l => l).map(l => { const c = JSON.parse(l); return get(c.schema)(c.doc); });
fs.writeFileSync(process.argv[4], JSON.stringify(out));
"""


def esc(k):
    return str(k).replace("~", "~0").replace("/", "~1")


def walk(node, p=()):
    yield p, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, p + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, p + (i,))


def ops(doc):
    for p, node in list(walk(doc)):
        if isinstance(node, dict):
            yield ("set", p + ("Zz_Extra",), 1)
            yield ("set", p, {})
            for k in list(node.keys()):
                for nk in [k + "_", k.lower(), "2022-13", "2022-1", "9999-12"]:
                    if nk != k and nk not in node:
                        yield ("ren", p + (k,), nk)
        if isinstance(node, list):
            yield ("set", p, [])
            if node:
                yield ("set", p + (len(node),), node[0])
            yield ("set", p, {"a": node})
        if p:
            yield ("del", p, None)
        if isinstance(node, str):
            for r in ["x", "", node + "x", "2022-13-01", "2023-02-15T09:11:12", "2023-02-30", node.lower(), node.upper(), 5, None,
                      "https://example.org/a b", "urn:x:1"]:
                yield ("set", p, r)
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            for r in [-1, 0, 1.5, 2.0, str(node), True, 10 ** 12]:
                yield ("set", p, r)
        if isinstance(node, bool):
            for r in ["true", 1, None]:
                yield ("set", p, r)


def apply(doc, op):
    kind, p, v = op
    d = copy.deepcopy(doc)
    cur = d
    for k in p[:-1]:
        cur = cur[k]
    last = p[-1]
    if kind == "set":
        if isinstance(cur, list) and last == len(cur):
            cur.append(copy.deepcopy(v))
        else:
            cur[last] = copy.deepcopy(v)
    elif kind == "del":
        del cur[last]
    else:
        items = list(cur.items())
        cur.clear()
        for kk, vv in items:
            cur[v if kk == last else kk] = vv
    return d


def schema_for(file_name):
    stem = file_name.split("_sample")[0]
    return stem[:2] + "_" + stem[2:] if len(stem) == 4 else stem


def main():
    ajv_dir = sys.argv[1] if len(sys.argv) > 1 else "/tmp/ajv"
    random.seed(20251)
    cases = []  # (file, schema, op, doc)
    for f in sorted(glob.glob(os.path.join(COUNTER, "samples", "*_sample_r51.json"))):
        name = os.path.basename(f)
        with open(f, encoding="utf-8") as fh:
            doc = json.loads(fh.read().replace("registry.countermetrics.org", "registry.projectcounter.org"))
        candidates = list(ops(doc))
        random.shuffle(candidates)
        cases += [(name, schema_for(name), o, apply(doc, o)) for o in candidates[:CANDIDATES] if o[1]]  # none on the root

    with tempfile.TemporaryDirectory() as tmp:
        docs, labels, script = (os.path.join(tmp, n) for n in ("docs.jsonl", "labels.json", "label.js"))
        with open(docs, "w", encoding="utf-8") as fh:
            for _, schema, _, d in cases:
                fh.write(json.dumps({"schema": schema, "doc": d}) + "\n")
        with open(script, "w", encoding="utf-8") as fh:
            fh.write(AJV)
        env = dict(os.environ, NODE_PATH=os.path.join(ajv_dir, "node_modules"))
        subprocess.run(["node", script, SPEC, docs, labels], check=True, env=env)
        with open(labels, encoding="utf-8") as fh:
            valid = json.load(fh)

    by = collections.defaultdict(lambda: {True: [], False: []})
    for i, (name, _, _, _) in enumerate(cases):
        by[name][valid[i]].append(i)
    chosen = sorted(i for name in sorted(by) for i in by[name][True][:PER_SAMPLE_VALID] + by[name][False][:PER_SAMPLE_INVALID])

    try:
        from jsonschema import Draft202012Validator, FormatChecker
        with open(SPEC, encoding="utf-8") as fh:
            defs = json.loads(fh.read().replace("#/components/schemas/", "#/$defs/"))["components"]["schemas"]
        validators = {}
        differ = 0
        for i in chosen:
            schema = cases[i][1]
            v = validators.setdefault(schema, Draft202012Validator({"$defs": defs, "$ref": "#/$defs/" + schema}, format_checker=FormatChecker()))
            differ += v.is_valid(cases[i][3]) != valid[i]
        print(f"python-jsonschema differs from ajv on {differ} (it does not check format 'uri' without rfc3987)")
    except ImportError:
        print("python-jsonschema not installed: no cross-check")

    with open(OUT, "w", encoding="utf-8", newline="\n") as fh:
        for i in chosen:
            name, _, (kind, p, v), _ = cases[i]
            rec = {"sample": name, "op": kind, "path": "".join("/" + esc(k) for k in p)}
            if kind != "del":
                rec["value"] = v
            rec["valid"] = valid[i]
            fh.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"{len(chosen)} cases, {sum(valid[i] for i in chosen)} valid -> {OUT}")


if __name__ == "__main__":
    main()
