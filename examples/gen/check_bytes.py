"""Checks the exported examples against the fine-tuning styles they claim:

  /usr/bin/python3 examples/gen/check_bytes.py

For every file listed in examples/manifest.json: onnx.checker (full check), then the byte
relations with the family's base.onnx, read from the ONNX files alone (no PyTorch):

  full           no weight is byte-equal to its base counterpart
  frozen         embeddings + bottom half byte-equal, top half + head changed
  lora-merged    only the Q/V projections (and BERT's classifier) changed, each by a rank-4 delta
  lora-explicit  every base weight present byte-identically (BERT's classifier excepted), plus
                 lora_A/lora_B initializers whose product (times alpha/r) is lora-merged's delta
  head-merged    embeddings byte-equal, everything above changed
  base-external  (external data) the same initializers as base, name for name
  cache-*        (KV-cache exports) frozen / lora-merged relations against cache-base, and
                 the same weights as the non-cache variant they were made from

torch names a transposed nn.Linear weight `onnx::MatMul_<n>`, so a weight is identified by
the module that uses it (from the consumer node's scope, e.g. /bert/encoder/layer.0/attention/
self/query/MatMul) rather than by its initializer name; the report says whether the names
agree too. Exits 1 when any relation is violated.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np
import onnx
from onnx import numpy_helper

EXAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


Block = Tuple[int, int]  # output columns [lo, hi) of an [in, out] weight; hi = -1: to the end
WHOLE: Block = (0, -1)


@dataclass(frozen=True)
class Roles:
    """How to read a family's weight keys (see weight_key). The two patterns go to manifest.json."""

    #: Matches the keys of one transformer layer; group 1 is the layer index.
    layer_pattern: str
    #: Matches the embedding tables' keys (and a tied lm_head, which is the embedding transposed).
    embedding_pattern: str
    #: Q/V projection weights -> the column blocks LoRA updates; None for every other weight.
    qv_blocks: Callable[[str], Optional[List[Block]]]
    #: Weights PEFT trains next to the adapters (modules_to_save).
    lora_trains: Callable[[str], bool]
    #: An adapter's prefix (its initializer name before .lora_A) -> the weight key and block it updates.
    adapter_target: Callable[[str], Tuple[str, Block]]


def _whole_if(pattern: str) -> Callable[[str], Optional[List[Block]]]:
    rx = re.compile(pattern)
    return lambda key: [WHOLE] if rx.search(key) else None


def _beside_linear(prefix: str) -> Tuple[str, Block]:
    # Linear.lora: `<module>.lora.lora_A` updates `<module>.weight` as a whole.
    return f"{prefix.removesuffix('.lora')}.weight", WHOLE


def _gpt2_roles(hidden: int) -> Roles:
    # c_attn fuses [Q | K | V] along its output axis; LoRA updates the Q and V blocks only.
    q, v = (0, hidden), (2 * hidden, 3 * hidden)
    c_attn = re.compile(r"\.attn\.c_attn\.weight$")

    def adapter_target(prefix: str) -> Tuple[str, Block]:
        attn, which = prefix.rsplit(".", 1)
        return f"{attn}.c_attn.weight", {"q_lora": q, "v_lora": v}[which]

    return Roles(
        layer_pattern=r"^transformer\.h\.(\d+)\.",
        # The lm_head is tied to wte: it is the embedding, transposed.
        embedding_pattern=r"^(transformer\.wte\.|transformer\.wpe\.|lm_head\.weight$)",
        qv_blocks=lambda key: [q, v] if c_attn.search(key) else None,
        lora_trains=lambda _k: False,
        adapter_target=adapter_target,
    )


def roles(family: str, hidden: int) -> Roles:
    if family == "bert":
        return Roles(
            layer_pattern=r"^bert\.encoder\.layer\.(\d+)\.",
            embedding_pattern=r"^bert\.embeddings\.",
            qv_blocks=_whole_if(r"\.attention\.self\.(query|value)\.weight$"),
            lora_trains=lambda k: k.startswith("classifier."),
            adapter_target=_beside_linear,
        )
    if family == "gpt2":
        return _gpt2_roles(hidden)
    if family == "llama":
        return Roles(
            layer_pattern=r"^model\.layers\.(\d+)\.",
            embedding_pattern=r"^model\.embed_tokens\.",
            qv_blocks=_whole_if(r"\.self_attn\.(q_proj|v_proj)\.weight$"),
            lora_trains=lambda _k: False,
            adapter_target=_beside_linear,
        )
    raise ValueError(f"unknown family {family}")


@dataclass
class Weight:
    key: str  # module path + .weight/.bias: stable across exports
    name: str  # the initializer name in the file
    value: np.ndarray


def _consumer_scopes(model: onnx.ModelProto) -> Dict[str, str]:
    scopes: Dict[str, str] = {}
    for node in model.graph.node:
        scope = ".".join(node.name.strip("/").split("/")[:-1])
        for name in node.input:
            scopes.setdefault(name, scope)
    return scopes


def weight_key(initializer: str, consumer_scope: str) -> str:
    """A name for a weight that is the same in every export of the family.

    Named initializers keep their parameter name. torch names a constant-folded transposed
    nn.Linear weight `onnx::MatMul_<n>`, with n depending on the whole graph; such a weight
    is named after the module of the node that consumes it instead, plus '.weight'
    ('/bert/encoder/layer.0/attention/self/query/MatMul' ->
    'bert.encoder.layer.0.attention.self.query.weight'; a top-level consumer, GPT-2's tied
    lm_head, gives 'lm_head.weight').
    """
    if not initializer.startswith("onnx::"):
        return initializer
    return f"{consumer_scope or 'lm_head'}.weight"


def load_weights(path: str) -> Dict[str, Weight]:
    """Float initializers of more than one element (the parameters), by weight_key."""
    model = onnx.load(path)  # external data is read in here
    # The proto, not the path: onnx 1.12's check_model(path, full_check=True) writes the
    # inferred shapes back into the file.
    onnx.checker.check_model(model, full_check=True)
    scopes = _consumer_scopes(model)
    weights: Dict[str, Weight] = {}
    for init in model.graph.initializer:
        value = numpy_helper.to_array(init)
        if value.dtype != np.float32 or value.size <= 1:
            continue
        key = weight_key(init.name, scopes.get(init.name, ""))
        if key in weights:
            raise AssertionError(f"{path}: two initializers for {key}")
        weights[key] = Weight(key, init.name, value)
    return weights


def weight_summary(base: Dict[str, Weight], variant: Dict[str, Weight]) -> Dict[str, int]:
    """How many of the variant's weights equal the base's (same key, shape, bytes); how many keep the name."""
    equal = [k for k, w in variant.items() if k in base and same(w.value, base[k].value)]
    return {
        "total": len(variant),
        "equalToBase": len(equal),
        "equalToBaseSameName": sum(1 for k in equal if variant[k].name == base[k].name),
    }


def same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.tobytes() == b.tobytes()


def numerical_rank(m: np.ndarray) -> int:
    s = np.linalg.svd(m.astype(np.float64), compute_uv=False)
    return int((s > 1e-4 * s[0]).sum()) if s.size and s[0] > 0 else 0


class Checker:
    """Collects violated relations of one family's variants with its base."""

    def __init__(self, family: dict, base: Dict[str, Weight]) -> None:
        self.family = family["name"]
        self.roles = roles(self.family, int(family["config"]["hidden"]))
        self.half = int(family["config"]["layers"]) // 2
        self.base = base
        self.failures: List[str] = []

    def fail(self, variant: str, message: str) -> None:
        self.failures.append(f"{self.family}/{variant}: {message}")

    def layer(self, key: str) -> Optional[int]:
        m = re.match(self.roles.layer_pattern, key)
        return int(m.group(1)) if m else None

    def is_embedding(self, key: str) -> bool:
        return re.match(self.roles.embedding_pattern, key) is not None

    def expect(self, variant: str, weights: Dict[str, Weight], keep: Callable[[str], bool]) -> None:
        """Base weights that `keep` selects must be byte-equal in the variant, all others must differ."""
        for key, b in self.base.items():
            w = weights.get(key)
            if w is None:
                self.fail(variant, f"no weight for {key}")
            elif keep(key) != same(w.value, b.value):
                self.fail(variant, f"{key} should be {'byte-equal to base' if keep(key) else 'changed'}")

    def changed_everywhere(self, variant: str, weights: Dict[str, Weight], keys: List[str]) -> None:
        """'Every weight changed': each element moved, not just some."""
        for key in keys:
            if np.any(weights[key].value == self.base[key].value):
                self.fail(variant, f"{key} has elements equal to base")

    def frozen_part(self, key: str) -> bool:
        layer = self.layer(key)
        return self.is_embedding(key) if layer is None else layer < self.half

    def lora_delta(
        self, variant: str, merged: Dict[str, Weight], key: str, rank: int
    ) -> Dict[Block, np.ndarray]:
        """merged - base for one Q/V weight, per block; each must have the adapters' rank, the rest zero."""
        blocks = self.roles.qv_blocks(key)
        assert blocks is not None
        delta = merged[key].value.astype(np.float64) - self.base[key].value.astype(np.float64)
        out: Dict[Block, np.ndarray] = {}
        mask = np.ones(delta.shape[1], dtype=bool)
        for lo, raw_hi in blocks:
            hi = delta.shape[1] if raw_hi < 0 else raw_hi
            mask[lo:hi] = False
            found = numerical_rank(delta[:, lo:hi])
            if found != rank:
                self.fail(variant, f"{key}[:, {lo}:{hi}] changed by a rank-{found} delta, expected {rank}")
            out[(lo, raw_hi)] = delta[:, lo:hi]
        if np.any(delta[:, mask] != 0):
            self.fail(variant, f"{key} changed outside the Q/V blocks")
        return out

    def adapters_match(
        self, explicit: Dict[str, Weight], deltas: Dict[str, Dict[Block, np.ndarray]], scale: float
    ) -> int:
        """Pairs lora_A/lora_B initializers and compares A @ B * scale with the merged deltas."""
        pairs: Dict[str, Dict[str, np.ndarray]] = {}
        for w in explicit.values():
            m = re.match(r"^(.*)\.lora_([AB])$", w.name)
            if m:
                pairs.setdefault(m.group(1), {})[m.group(2)] = w.value.astype(np.float64)
        complete = {prefix: p for prefix, p in pairs.items() if "A" in p and "B" in p}
        expected = {(key, block) for key, blocks in deltas.items() for block in blocks}
        targets = {self.roles.adapter_target(prefix): prefix for prefix in complete}
        if set(targets) != expected or len(targets) != len(pairs):
            mismatch = f"adapters {sorted(pairs)} do not match the Q/V deltas {sorted(expected)}"
            self.fail("lora-explicit", mismatch)
            return len(complete)
        for (key, block), prefix in targets.items():
            product = complete[prefix]["A"] @ complete[prefix]["B"] * scale
            err = float(np.abs(product - deltas[key][block]).max())
            if err > 1e-5:
                off = f"{prefix}: A@B*scale is {err:.2e} off lora-merged's {key}{list(block)}"
                self.fail("lora-explicit", off)
        return len(complete)


def lora_info(family: dict) -> dict:
    return next(v["lora"] for v in family["variants"] if v["name"] == "lora-explicit")


def check_family(family: dict) -> List[str]:
    """Checks every relation; returns report lines, violated ones starting with '  FAIL'."""
    files = {v["name"]: os.path.join(EXAMPLES, v["file"]) for v in family["variants"]}
    loaded = {name: load_weights(path) for name, path in files.items()}
    base = loaded["base"]
    c = Checker(family, base)
    r = c.roles
    keys = sorted(base)

    c.expect("full", loaded["full"], lambda _k: False)
    c.changed_everywhere("full", loaded["full"], keys)
    c.expect("frozen", loaded["frozen"], c.frozen_part)

    lora = lora_info(family)
    merged = loaded["lora-merged"]
    c.expect("lora-merged", merged, lambda k: r.qv_blocks(k) is None and not r.lora_trains(k))
    qv = [k for k in keys if r.qv_blocks(k) is not None]
    deltas = {k: c.lora_delta("lora-merged", merged, k, lora["rank"]) for k in qv}

    explicit = loaded["lora-explicit"]
    without_adapters = {k: w for k, w in explicit.items() if "lora_" not in w.name}
    c.expect("lora-explicit", without_adapters, lambda k: not r.lora_trains(k))
    n_pairs = c.adapters_match(explicit, deltas, lora["alpha"] / lora["rank"])

    c.expect("head-merged", loaded["head-merged"], c.is_embedding)

    if "base-external" in loaded:
        ext = loaded["base-external"]
        for k, b in base.items():
            if k not in ext or ext[k].name != b.name or not same(ext[k].value, b.value):
                c.fail("base-external", f"{k} differs from base")

    lines = [f"{family['name']}: {len(base)} weights in base"]
    for variant, weights in loaded.items():
        summary = weight_summary(base, weights)
        renamed = summary["equalToBase"] - summary["equalToBaseSameName"]
        extra = len(weights) - sum(1 for k in keys if k in weights)
        note = f", {renamed} of them under another initializer name" if renamed else ""
        adapters = f", {extra} adapter initializers ({n_pairs} A/B pairs)" if extra else ""
        equal = f"{summary['equalToBase']:3d}/{len(keys)}"
        lines.append(f"  {variant:14s} {equal} byte-equal to base{note}{adapters}")
    return lines + [f"  FAIL {f}" for f in c.failures]


def check_cache(cache: dict, family: dict) -> List[str]:
    """The KV-cache exports against cache-base: frozen and lora-merged relations as above, and
    each cache variant's weights equal to its non-cache source's (gpt2's longer position table:
    its first rows)."""
    files = {v["name"]: os.path.join(EXAMPLES, v["file"]) for v in cache["variants"]}
    loaded = {name: load_weights(path) for name, path in files.items()}
    base = loaded["cache-base"]
    c = Checker(family, base)
    c.expect("cache-frozen", loaded["cache-frozen"], c.frozen_part)
    r = c.roles
    c.expect("cache-lora-merged", loaded["cache-lora-merged"], lambda k: r.qv_blocks(k) is None)
    for k in sorted(base):
        if r.qv_blocks(k) is not None:
            c.lora_delta("cache-lora-merged", loaded["cache-lora-merged"], k, lora_info(family)["rank"])
    for v in cache["variants"]:
        source = load_weights(os.path.join(EXAMPLES, family["name"], f"{v['sameWeightsAs']}.onnx"))
        for k, w in loaded[v["name"]].items():
            s = source.get(k)
            rows = None if s is None else s.value.shape[0]
            if s is None or not same(w.value[:rows], s.value):
                c.fail(v["name"], f"{k} differs from {v['sameWeightsAs']}.onnx")
    lines = [f"{family['name']} cache exports: {len(base)} weights in cache-base"]
    for variant, weights in loaded.items():
        summary = weight_summary(base, weights)
        lines.append(f"  {variant:18s} {summary['equalToBase']:3d}/{len(base)} byte-equal to cache-base")
    return lines + [f"  FAIL {f}" for f in c.failures]


def main() -> int:
    with open(os.path.join(EXAMPLES, "manifest.json")) as f:
        manifest = json.load(f)
    ok = True
    families = {f["name"]: f for f in manifest["families"]}
    reports = [check_family(family) for family in manifest["families"]]
    reports += [check_cache(cache, families[cache["family"]]) for cache in manifest["cache"]]
    for lines in reports:
        print("\n".join(lines))
        ok = ok and not any(line.startswith("  FAIL") for line in lines)
    print("all byte relations hold" if ok else "byte relations VIOLATED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
