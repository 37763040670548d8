"""KV-cache exports of the decoder families (gpt2, llama): the layout of a decoder exported
for generation, as HF/optimum export it.

  inputs   input_ids [1, sequence] (int64)
           past_key_values.{i}.key / .value [1, heads, past_sequence, head_dim] (float32)
  outputs  logits [1, sequence, vocab]
           present.{i}.key / .value [1, heads, past_sequence + sequence, head_dim]

`sequence` and `past_sequence` are dynamic; positions come from the past length inside the
graph (gpt2: position ids past..past+S-1 into the position table and the causal mask sliced
as bias[:, :, k-q:k, :k]; llama: rotary angles of past..past+S-1 and a mask of zeros for the
past). A prefill is the same graph with past_sequence = 0.

The variants reuse the weights of the non-cache variants of the same name (cache-base =
base, cache-frozen = frozen, cache-lora-merged = lora-merged), so the public/private split
against cache-base is the one the non-cache files have against base.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import onnx
import torch
from torch import nn

import gpt2
import llama
from common import ExportSpec, Family, StateDict, generator, randn
from variants import Variant, private_summary

#: The non-cache variants that get a cache export, and the file stem of each.
CACHE_VARIANTS = {"base": "cache-base", "frozen": "cache-frozen", "lora-merged": "cache-lora-merged"}
#: The lengths torch traces with; the exported axes are dynamic, the values only exercise the graph.
TRACE_SEQUENCE = 3
TRACE_PAST = 5


@dataclass(frozen=True)
class CacheFamily:
    family: Family
    #: A cache model with this many heads, weights unset (same parameter names as family.build).
    build: Callable[[int], nn.Module]
    #: A non-cache variant's state dict -> the cache model's.
    state: Callable[[StateDict], StateDict]
    #: Length of the position table (None: positions are not bounded by a table).
    max_positions: Optional[int]


CACHE_FAMILIES: List[CacheFamily] = [
    CacheFamily(gpt2.FAMILY, lambda heads: gpt2.GPT2CacheLMHeadModel(heads, False), gpt2.cache_state, gpt2.CACHE_MAX_POS),
    CacheFamily(llama.FAMILY, lambda heads: llama.LlamaCacheForCausalLM(heads, False), lambda s: s, None),
]


def layers(family: Family) -> int:
    return int(family.config["layers"])


def io_names(family: Family) -> ExportSpec:
    past = [f"past_key_values.{i}.{kv}" for i in range(layers(family)) for kv in ("key", "value")]
    present = [f"present.{i}.{kv}" for i in range(layers(family)) for kv in ("key", "value")]
    axes: Dict[str, Dict[int, str]] = {"input_ids": {1: "sequence"}, "logits": {1: "sequence"}}
    axes.update({name: {2: "past_sequence"} for name in past})
    axes.update({name: {2: "past_sequence + sequence"} for name in present})
    return ExportSpec(family.export.opset, ["input_ids", *past], ["logits", *present], axes)


def trace_inputs(family: Family, heads: int) -> Dict[str, torch.Tensor]:
    g = generator(family.name, "cache-trace")
    head_dim = int(family.config["hidden"]) // heads
    vocab = int(family.config["vocab"])
    inputs = {"input_ids": torch.randint(0, vocab, (1, TRACE_SEQUENCE), generator=g)}
    for name in io_names(family).input_names[1:]:
        inputs[name] = randn((1, heads, TRACE_PAST, head_dim), g)
    return inputs


def cache_model(spec: CacheFamily, variant: Variant) -> nn.Module:
    model = spec.build(variant.heads)
    model.load_state_dict(spec.state(variant.model.state_dict()), strict=True)
    return model.eval()
