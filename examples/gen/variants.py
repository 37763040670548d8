"""The fine-tuning styles of the Marill paper, applied to one family's base model.

Each variant is built from the base state dict; a parameter that the style keeps is
handed over as the very same tensor, so its exported bytes equal the base's.

  base           the public "pre-trained" model
  full           every parameter fine-tuned
  frozen         embeddings and the bottom half of the layers kept, the top half and the head tuned
  lora-merged    rank-4 LoRA on Q and V in every layer, folded into the weights (+ BERT's classifier)
  lora-explicit  the same adapters as separate lora_A / lora_B initializers; base weights untouched
  head-merged    half as many, twice as wide heads; attention and everything above it tuned
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional

import torch
from torch import nn

from common import LORA_ALPHA, LORA_RANK, Family, LoraPair, StateDict, generator, perturb

VARIANT_NAMES = ["base", "full", "frozen", "lora-merged", "lora-explicit", "head-merged"]


@dataclass
class Variant:
    name: str
    model: nn.Module
    heads: int
    lora_form: Optional[str] = None
    notes: List[str] = field(default_factory=list)


def _load(family: Family, state: StateDict, heads: int, lora: bool = False) -> nn.Module:
    model = family.build(heads, lora)
    model.load_state_dict(state, strict=True)
    return model.eval()


def _base(family: Family) -> nn.Module:
    model = family.build(family.heads, False)
    family.init_base(model, generator(family.name, "base"))
    return model.eval()


def _full_state(family: Family, base: StateDict) -> StateDict:
    return perturb(base, lambda _name: True, generator(family.name, "full"))


def _frozen_state(family: Family, base: StateDict) -> StateDict:
    top_half_start = family.layers // 2

    def tuned(name: str) -> bool:
        layer = family.layer_of(name)
        if layer is not None:
            return layer >= top_half_start
        return not family.is_embedding(name)

    return perturb(base, tuned, generator(family.name, "frozen"))


def _head_merged_state(family: Family, base: StateDict) -> StateDict:
    """Same tensors, read as half as many heads (weights stay [hidden, hidden]); all but embeddings tuned."""
    return perturb(base, lambda name: not family.is_embedding(name), generator(family.name, "head-merged"))


def _lora_model(family: Family, base: StateDict) -> nn.Module:
    """Base weights + non-zero adapters on Q and V, + the parameters PEFT trains alongside them."""
    model = family.build(family.heads, True)
    missing, unexpected = model.load_state_dict(base, strict=False)
    if unexpected or any(".lora_" not in k for k in missing):
        raise RuntimeError(f"{family.name}: LoRA model does not extend the base: {missing} {unexpected}")
    g = generator(family.name, "lora")
    for module in model.modules():
        if isinstance(module, LoraPair):
            module.init_nonzero(g)
    tuned = perturb(model.state_dict(), family.lora_trains, generator(family.name, "lora-head"))
    model.load_state_dict(tuned, strict=True)
    return model.eval()


def build_variants(family: Family) -> Dict[str, Variant]:
    base_model = _base(family)
    base = base_model.state_dict()
    heads = family.heads
    head_dim = int(family.config["hidden"]) // heads
    lora = _lora_model(family, base)
    scale = LORA_ALPHA / LORA_RANK
    lora_note = f"LoRA rank {LORA_RANK}, alpha {LORA_ALPHA:g} (scale {scale:g}) on Q and V of every layer"
    variants = [
        Variant("base", base_model, heads),
        Variant("full", _load(family, _full_state(family, base), heads), heads),
        Variant("frozen", _load(family, _frozen_state(family, base), heads), heads),
        Variant("lora-merged", _load(family, family.merge_lora(lora), heads), heads, "merged", [lora_note]),
        Variant("lora-explicit", lora, heads, "explicit", [lora_note]),
        Variant(
            "head-merged",
            _load(family, _head_merged_state(family, base), heads // 2),
            heads // 2,
            notes=[f"{heads // 2} heads of width {2 * head_dim} instead of {heads} of width {head_dim}"],
        ),
    ]
    assert [v.name for v in variants] == VARIANT_NAMES
    return {v.name: v for v in variants}


def same_bytes(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and bool(torch.equal(a, b))


def private_summary(family: Family, variant: Variant, base: StateDict) -> Dict[str, object]:
    """Which parts of the variant differ from the base (adapters count as private), for manifest.json."""
    layers: set = set()
    embeddings = head = False
    for name, t in variant.model.state_dict().items():
        if name in base and same_bytes(t, base[name]):
            continue
        layer = family.layer_of(name)
        if layer is not None:
            layers.add(layer)
        elif family.is_embedding(name):
            embeddings = True
        else:
            head = True
    return {"privateLayers": sorted(layers), "embeddingsChanged": embeddings, "headChanged": head}
