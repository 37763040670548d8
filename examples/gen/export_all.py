"""Regenerates every example model: /usr/bin/python3 examples/gen/export_all.py

Writes, for each family (bert, gpt2, llama):
  examples/<family>/<variant>.onnx        one file per fine-tuning style (see variants.py)
  examples/<family>/cache-<variant>.onnx  gpt2 and llama: KV-cache exports of base, frozen and
                                          lora-merged (see cache.py)
  examples/<family>/input.json            the sample input, in the CLI's JSON format
  examples/bert/base-external.onnx/.data  bert's base model again, weights as ONNX external data
and examples/manifest.json describing all of them, and examples/tokenizer/tokenizer.json
(tokenizer.py). PyTorch's own outputs on the sample
inputs go to out/examples-torch/ (git-ignored): check.ts compares onnxruntime with them;
they are never used as test expectations. Deterministic: a rerun on the same torch
version reproduces every file byte for byte.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from typing import Dict, List, Optional

import onnx
import torch

sys.dont_write_bytecode = True  # no __pycache__ inside examples/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bert import FAMILY as BERT  # noqa: E402
from cache import CACHE_FAMILIES, CACHE_VARIANTS, CacheFamily, cache_model, io_names, trace_inputs  # noqa: E402
from check_bytes import load_weights, roles, weight_summary  # noqa: E402
from common import LORA_ALPHA, LORA_RANK, Family, export_onnx, run_torch  # noqa: E402
from gpt2 import FAMILY as GPT2  # noqa: E402
from llama import FAMILY as LLAMA  # noqa: E402
from tokenizer import main as train_tokenizer  # noqa: E402
from variants import Variant, build_variants, private_summary  # noqa: E402

EXAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(EXAMPLES)
TORCH_OUT = os.path.join(REPO, "out", "examples-torch")
FAMILIES: List[Family] = [BERT, GPT2, LLAMA]
EXTERNAL_DATA_MIN_BYTES = 1024
ONNX_DTYPES = {onnx.TensorProto.INT64: "int64", onnx.TensorProto.FLOAT: "float32"}

Entry = Dict[str, object]


def in_examples(*parts: str) -> str:
    return os.path.join(EXAMPLES, *parts)


def op_counts(model: onnx.ModelProto) -> Dict[str, int]:
    return dict(sorted(Counter(node.op_type for node in model.graph.node).items()))


def value_info(vi: onnx.ValueInfoProto, sample_shape: List[int]) -> Entry:
    t = vi.type.tensor_type
    declared = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]
    return {"name": vi.name, "dtype": ONNX_DTYPES[t.elem_type], "shape": sample_shape, "onnxShape": declared}


def write_json(path: str, value: object, indent: Optional[int] = 2) -> None:
    with open(path, "w") as f:
        json.dump(value, f, indent=indent)
        f.write("\n")


def format_json(paths: List[str]) -> None:
    """The repository's formatter has the last word on committed JSON (`npm test` runs prettier --check)."""
    command = ["npx", "--no-install", "prettier", "--write", *paths]
    try:
        subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"warning: prettier failed ({e}); run `npx prettier --write examples` before committing")


def write_input(family: Family, inputs: Dict[str, torch.Tensor]) -> str:
    rel = f"{family.name}/input.json"
    write_json(in_examples(rel), {k: v.tolist() for k, v in inputs.items()}, indent=None)
    return rel


def export_variant(family: Family, variant: Variant, inputs: Dict[str, torch.Tensor]) -> onnx.ModelProto:
    path = in_examples(family.name, f"{variant.name}.onnx")
    export_onnx(variant.model, inputs, family.export, path)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    logits = run_torch(variant.model, inputs, family.export)
    os.makedirs(os.path.join(TORCH_OUT, family.name), exist_ok=True)
    reference = os.path.join(TORCH_OUT, family.name, f"{variant.name}.json")
    write_json(reference, {"logits": logits.tolist()}, indent=None)
    return model


def export_external(family: Family, base_model: onnx.ModelProto, base_entry: Entry) -> Entry:
    """The base model again with its weights in a side file, for the loader's external-data path."""
    name = "base-external"
    data = f"{name}.data"
    model_path, data_path = in_examples(family.name, f"{name}.onnx"), in_examples(family.name, data)
    if os.path.exists(data_path):
        os.remove(data_path)  # onnx appends to an existing data file
    copy = onnx.ModelProto()
    copy.CopyFrom(base_model)
    onnx.save_model(
        copy,
        model_path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=data,
        size_threshold=EXTERNAL_DATA_MIN_BYTES,
    )
    onnx.checker.check_model(onnx.load(model_path), full_check=True)
    return {
        **base_entry,
        "name": name,
        "file": f"{family.name}/{name}.onnx",
        "externalData": f"{family.name}/{data}",
        "sameWeightsAs": "base",
        "bytes": os.path.getsize(model_path) + os.path.getsize(data_path),
        "notes": [f"base.onnx with every initializer of >= {EXTERNAL_DATA_MIN_BYTES} bytes in {data}"],
    }


def lora_entry(variant: Variant) -> Optional[Entry]:
    if variant.lora_form is None:
        return None
    return {"form": variant.lora_form, "rank": LORA_RANK, "alpha": LORA_ALPHA, "targets": ["q", "v"]}


def weight_keys(family: Family) -> Dict[str, str]:
    r = roles(family.name, int(family.config["hidden"]))
    return {"layer": r.layer_pattern, "embedding": r.embedding_pattern}


def declared(vi: onnx.ValueInfoProto) -> Entry:
    t = vi.type.tensor_type
    shape = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in t.shape.dim]
    return {"name": vi.name, "dtype": ONNX_DTYPES[t.elem_type], "onnxShape": shape}


def export_cache_family(spec: CacheFamily, variants: Dict[str, Variant]) -> Entry:
    """cache-base / cache-frozen / cache-lora-merged from the variants of the same weights."""
    family = spec.family
    base_variant = variants["base"]
    io = io_names(family)
    inputs = trace_inputs(family, base_variant.heads)
    models = {name: cache_model(spec, variants[name]) for name in CACHE_VARIANTS}
    base_state = models["base"].state_dict()
    entries: List[Entry] = []
    exported: Dict[str, onnx.ModelProto] = {}
    for source, stem in CACHE_VARIANTS.items():
        file = f"{family.name}/{stem}.onnx"
        export_onnx(models[source], inputs, io, in_examples(file))
        model = onnx.load(in_examples(file))
        onnx.checker.check_model(model, full_check=True)
        exported[stem] = model
        variant = Variant(stem, models[source], variants[source].heads, variants[source].lora_form)
        entries.append(
            {
                "name": stem,
                "file": file,
                "sameWeightsAs": source,
                "heads": variant.heads,
                "bytes": os.path.getsize(in_examples(file)),
                **private_summary(family, variant, base_state),
                "opCounts": op_counts(model),
            }
        )
        print(f"  {file}: {entries[-1]['bytes']} bytes, {len(model.graph.node)} nodes")
    base_weights = load_weights(in_examples(str(entries[0]["file"])))
    for entry in entries:
        entry["weights"] = weight_summary(base_weights, load_weights(in_examples(str(entry["file"]))))
    base = exported["cache-base"]
    hidden = int(family.config["hidden"])
    return {
        "family": family.name,
        "opset": family.export.opset,
        "layers": family.layers,
        "heads": family.heads,
        "headDim": hidden // family.heads,
        "vocab": int(family.config["vocab"]),
        "maxPositions": spec.max_positions,
        "inputs": [declared(vi) for vi in base.graph.input],
        "outputs": [declared(vi) for vi in base.graph.output],
        "variants": entries,
    }


def export_family(family: Family, variants: Dict[str, Variant]) -> Entry:
    os.makedirs(in_examples(family.name), exist_ok=True)
    inputs = family.sample_inputs()
    base_state = variants["base"].model.state_dict()
    entries: List[Entry] = []
    exported: Dict[str, onnx.ModelProto] = {}
    for variant in variants.values():
        model = export_variant(family, variant, inputs)
        exported[variant.name] = model
        file = f"{family.name}/{variant.name}.onnx"
        entries.append(
            {
                "name": variant.name,
                "file": file,
                "heads": variant.heads,
                "bytes": os.path.getsize(in_examples(file)),
                **private_summary(family, variant, base_state),
                "lora": lora_entry(variant),
                "notes": variant.notes,
                "opCounts": op_counts(model),
            }
        )
        print(f"  {file}: {entries[-1]['bytes']} bytes, {len(model.graph.node)} nodes")
    if family.name == "bert":
        entries.append(export_external(family, exported["base"], entries[0]))
    base_weights = load_weights(in_examples(family.name, "base.onnx"))
    for entry in entries:
        entry["weights"] = weight_summary(base_weights, load_weights(in_examples(str(entry["file"]))))
    base = exported["base"]
    logits = run_torch(variants["base"].model, inputs, family.export)
    return {
        "name": family.name,
        "summary": family.summary,
        "opset": family.export.opset,
        "dynamic": family.export.dynamic_axes is not None,
        "config": family.config,
        "weightKeys": weight_keys(family),
        "inputFile": write_input(family, inputs),
        "inputs": [value_info(vi, list(inputs[vi.name].shape)) for vi in base.graph.input],
        "outputs": [value_info(vi, list(logits.shape)) for vi in base.graph.output],
        "variants": entries,
    }


def main() -> None:
    families = []
    caches = []
    for family in FAMILIES:
        print(f"{family.name} (opset {family.export.opset})")
        variants = build_variants(family)
        families.append(export_family(family, variants))
        for spec in CACHE_FAMILIES:
            if spec.family.name == family.name:
                caches.append(export_cache_family(spec, variants))
    manifest = {
        "generatedBy": "/usr/bin/python3 examples/gen/export_all.py",
        "torch": torch.__version__,
        "onnx": onnx.__version__,
        "families": families,
        "cache": caches,
    }
    write_json(in_examples("manifest.json"), manifest)
    tokenizer = train_tokenizer()
    inputs = [in_examples(str(f["inputFile"])) for f in families]
    format_json([in_examples("manifest.json"), tokenizer] + inputs)
    total = sum(
        os.path.getsize(os.path.join(root, f))
        for root, _dirs, files in os.walk(EXAMPLES)
        for f in files
        if f.endswith(".onnx") or f.endswith(".data")
    )
    print(f"total model bytes: {total}")


if __name__ == "__main__":
    main()
