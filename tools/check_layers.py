#!/usr/bin/env python3
"""Checks that dependencies between mrg's folders point one way.

    tools -> train -> generate -> models -> nn -> ops -> core
    io, text, metrics: leaves over core (io and metrics use text) that nn
    and above may use; dist (lib/dist: the ranks of a data-parallel job and
    their collectives) a leaf over core that models and above may use; cpu/ and cl/ (the backends) see only core.

It reads every C/C++ file under lib/, cpu/, cl/, tools/ and bench/ (the
`mrg bench` modes, a part of the tools layer) and fails on
  - an #include of a public header (lib/include/mrg/*.h) of a layer the
    file's layer may not use, and a public header doing the same;
  - an #include of another folder's private header (core/internal.h is
    shared by core and ops; core/backend.h also by the backends;
    core/registry.h also by lib/backends.c; core/files.h, leaf utilities,
    by the library folders that read and write files; core/topk.h by the
    host search and the CPU backend's token choice);
  - a call into the backend table (`->be`, `MRG_BE(`) outside lib/core
    (which owns device memory) and lib/ops (which dispatches every kernel),
    and outside the backends themselves.
tests/ are white-box and not checked. Usage:
    python3 tools/check_layers.py [REPO_ROOT]    (exit 0: the layering holds)
A built-in self-test first checks that each rule catches a violation.
"""
import os
import re
import sys

# The layer of each source folder (relative to the repository root).
FOLDER_LAYER = {
    "lib/core": "core",
    "lib/ops": "ops",
    "lib/nn": "nn",
    "lib/models": "models",
    "lib/generate": "generate",
    "lib/train": "train",
    "lib/io": "io",
    "lib/text": "text",
    "lib/metrics": "metrics",
    "lib/dist": "dist",
    "lib": "registry",  # lib/backends.c: the list of backends
    "cpu": "backend",
    "cl": "backend",
    "tools": "tools",
    "bench": "tools",
}

# The layer of each public header. A new header must be added here.
HEADER_LAYER = {
    "status.h": "core",
    "clock.h": "core",
    "atomic_file.h": "core",
    "limits.h": "core",  # constants only: every layer states its limits there
    "tensor.h": "core",
    "opencl.h": "core",  # interop: an OpenCL device's queue and buffers
    "autograd.h": "core",
    "cpu.h": "core",  # the host CPU's ISA and BLAS kernels (implemented in cpu/)
    "ops.h": "ops",
    "nn.h": "nn",
    "vit.h": "models",
    "llama.h": "models",
    "model.h": "models",
    "generate.h": "generate",
    "sampling.h": "generate",
    "optim.h": "train",
    "schedule.h": "train",
    "checkpoint.h": "train",
    "progress.h": "train",
    "trainer.h": "train",
    "evaluate.h": "train",
    "train_run.h": "train",
    "pretrain.h": "train",
    "outputs.h": "train",  # safe outputs of the commands (uses the checkpoint swap)
    "safetensors.h": "io",
    "image.h": "io",
    "dataset.h": "io",
    "phantom.h": "io",
    "content_hash.h": "io",
    "text.h": "text",
    "tokenizer.h": "text",
    "spm_train.h": "text",
    "metrics.h": "metrics",
    "dist.h": "dist",
    "mrg.h": "umbrella",
}

_BELOW_MODELS = {"core", "ops", "nn", "io", "text", "metrics", "dist"}
# The layers a layer may use (its own included).
ALLOWED = {
    "core": {"core"},
    "ops": {"core", "ops"},
    # mrg_params_load/save (mrg/nn.h) read and write safetensors files
    "nn": {"core", "ops", "nn", "io"},
    "models": _BELOW_MODELS | {"models"},
    "generate": _BELOW_MODELS | {"models", "generate"},
    "train": _BELOW_MODELS | {"models", "generate", "train"},
    "io": {"core", "io", "text"},
    "text": {"core", "text"},
    "metrics": {"core", "text", "metrics"},
    "dist": {"core", "dist"},
    "backend": {"core"},
    "registry": {"core"},
    "tools": _BELOW_MODELS | {"models", "generate", "train", "umbrella", "tools"},
    "umbrella": set(HEADER_LAYER.values()),
}

# Private headers shared beyond their own folder, and who may include them.
SHARED_PRIVATE = {
    "lib/core/internal.h": {"lib/core", "lib/ops"},
    "lib/core/backend.h": {"lib/core", "lib/ops", "cpu", "cl"},
    "lib/core/registry.h": {"lib/core", "lib/ops", "cpu", "cl", "lib"},
    # leaf utilities: whole-file read, directories, copies
    "lib/core/files.h": {"lib/core", "lib/io", "lib/text", "lib/metrics", "lib/models",
                         "lib/train", "cl"},  # cl: the tuning cache
    # decoding's log-softmax and top-k, which must be bit for bit the same
    # in the host search and in the CPU backend's select_topk
    "lib/core/topk.h": {"lib/core", "lib/generate", "cpu"},
}

# Folders whose code may call the backend table.
BACKEND_CALLERS = {"lib/core", "lib/ops", "cpu", "cl"}

# Known exceptions: path -> reason. Keep this empty; each entry is a debt.
EXCEPTIONS = {}

SOURCE_DIRS = ["lib", "cpu", "cl", "tools", "bench"]
SOURCE_EXT = (".c", ".h", ".cc")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
BE_CALL_RE = re.compile(r"->\s*be\b|\bMRG_BE\s*\(")


def strip_comments(text):
    """Blanks comments and string literals, keeping line numbers."""
    def blank(m):
        s = m.group(0)
        if s.startswith('"') or s.startswith("'"):
            return '""'
        return re.sub(r"[^\n]", " ", s)
    return re.sub(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'',
                  blank, text, flags=re.S)


def folder_of(rel):
    """The FOLDER_LAYER key that owns rel (a path from the root), or None."""
    d = os.path.dirname(rel)
    while d:
        if d in FOLDER_LAYER:
            return d
        d = os.path.dirname(d)
    return None


def resolve(rel, inc, exists):
    """The path (from the root) of the file `#include "inc"` in rel names,
    or None for a header outside the tree (stb_image.h)."""
    here = os.path.dirname(rel)
    candidates = [os.path.normpath(os.path.join(here, inc)),
                  os.path.normpath(os.path.join("lib/include", inc)),
                  os.path.normpath(os.path.join("lib", inc)),
                  os.path.normpath(inc)]
    for c in candidates:
        if exists(c):
            return c
    return None


def layer_of_header(path):
    """(layer, None) for a file in the tree; (None, message) for a public
    header missing from HEADER_LAYER."""
    if path.startswith("lib/include/mrg/"):
        name = path[len("lib/include/mrg/"):]
        if name not in HEADER_LAYER:
            return None, ("public header %s has no layer: add it to HEADER_LAYER in "
                          "tools/check_layers.py" % path)
        return HEADER_LAYER[name], None
    folder = folder_of(path)
    return (FOLDER_LAYER[folder] if folder else None), None


def check_file(rel, text, exists):
    """Violations of one file as (line, message) pairs."""
    if rel in EXCEPTIONS:
        return []
    public = rel.startswith("lib/include/mrg/")
    if public:
        layer, err = layer_of_header(rel)
        if err:
            return [(1, err)]
        folder = None
    else:
        folder = folder_of(rel)
        if folder is None:
            return []
        layer = FOLDER_LAYER[folder]
    code = strip_comments(text)
    out = []
    for m in INCLUDE_RE.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        target = resolve(rel, m.group(1), exists)
        if target is None or target == rel:
            continue
        if target.startswith("lib/include/mrg/"):
            tlayer, err = layer_of_header(target)
            if err:
                out.append((line, err))
            elif tlayer not in ALLOWED[layer]:
                out.append((line, '%s (%s) includes "%s" (%s): %s may use only %s' % (
                    rel, layer, m.group(1), tlayer, layer, ", ".join(sorted(ALLOWED[layer])))))
            continue
        tfolder = folder_of(target)
        if tfolder is None or tfolder == folder:
            continue
        users = SHARED_PRIVATE.get(target)
        if users is None or folder not in users:
            who = ("only " + ", ".join(sorted(users))) if users else "only %s/" % tfolder
            out.append((line, '%s includes "%s", a private header of %s/ (%s may include it)'
                        % (rel, m.group(1), tfolder, who)))
    if public or folder not in BACKEND_CALLERS:
        for m in BE_CALL_RE.finditer(code):
            line = code.count("\n", 0, m.start()) + 1
            out.append((line, "%s calls the backend table (%r): only lib/ops dispatches "
                        "kernels; use or add an op in lib/ops" % (rel, m.group(0))))
    return out


def sources(root):
    for top in SOURCE_DIRS:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs.sort()
            for f in sorted(files):
                if f.endswith(SOURCE_EXT):
                    yield os.path.relpath(os.path.join(d, f), root)


def self_test():
    """Each rule must catch a violation (so this check can fail)."""
    tree = {"lib/include/mrg/model.h", "lib/include/mrg/ops.h", "lib/include/mrg/tensor.h",
            "lib/models/llama_internal.h", "lib/core/internal.h", "lib/core/backend.h",
            "lib/include/mrg/new_topic.h"}
    exists = tree.__contains__
    bad = {
        "lib/io/x.c": '#include "mrg/model.h"\n',             # a leaf using models
        "lib/io/y.c": '#include "models/llama_internal.h"\n',  # another folder's private header
        "lib/core/z.c": '#include "mrg/ops.h"\n',              # core using ops
        "lib/train/w.c": "void f(mrg_device *d) { d->be->sync(d); }\n",
        "lib/models/v.c": '#include "core/internal.h"\n',
        "cpu/u.c": '#include "mrg/model.h"\n',                 # a backend using model code
        "lib/include/mrg/new_topic.h": "\n",                   # a header without a layer
        "tools/t.c": '#include "core/backend.h"\n',
        "bench/s.c": "void f(mrg_device *d) { d->be->sync(d); }\n",  # a benchmark in the table
    }
    good = {
        "lib/ops/a.c": '#include "core/internal.h"\nvoid f(mrg_device *d) { d->be->sync(d); }\n',
        "lib/models/b.c": '#include "mrg/ops.h"\n/* not a call: dev->be->gemm */\n',
        "cpu/c.c": '#include "core/backend.h"\n',
    }
    ok = True
    for rel, text in bad.items():
        if not check_file(rel, text, exists):
            print("check_layers self-test: %s was not caught" % rel)
            ok = False
    for rel, text in good.items():
        for line, msg in check_file(rel, text, exists):
            print("check_layers self-test: false alarm %s:%d: %s" % (rel, line, msg))
            ok = False
    return ok


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..")
    root = os.path.abspath(root)
    if not self_test():
        return 1
    exists = lambda rel: os.path.isfile(os.path.join(root, rel))
    n, problems = 0, []
    for rel in sources(root):
        n += 1
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        problems += [(rel, line, msg) for line, msg in check_file(rel, text, exists)]
    for rel, line, msg in problems:
        print("%s:%d: %s" % (rel, line, msg))
    if problems:
        print("check_layers: %d violation(s) in %d files" % (len(problems), n))
        return 1
    for rel, why in sorted(EXCEPTIONS.items()):
        if os.path.exists(os.path.join(root, rel)):
            print("check_layers: not checked: %s (%s)" % (rel, why))
    print("check_layers: %d files, dependencies point one way" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
