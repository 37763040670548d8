"""GPT-2-style decoder, written the way HF transformers' GPT2LMHeadModel writes it.

Token + position embeddings, pre-LN blocks, Conv1D weights (x @ W + b with W [in, out],
exported as Gemm), a fused c_attn split into Q/K/V, the causal mask as a registered
lower-triangular buffer sliced and applied with torch.where against -1e4, tanh-GeLU
("gelu_new"), a final LayerNorm and an lm_head tied to the token embedding.
Exported with a static sequence length: constant folding removes most shape plumbing.

LoRA on Q and V: c_attn fuses Q, K and V, so the adapters sit beside it (q_lora, v_lora)
and the merged update touches only the Q and V column blocks of c_attn's weight.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

from common import (
    Conv1D,
    ExportSpec,
    Family,
    LoraPair,
    StateDict,
    generator,
    init_norm,
    layer_reader,
    randn,
    without_lora,
)

CONFIG = {
    "layers": 4,
    "hidden": 32,
    "heads": 4,
    "ffn": 64,
    "vocab": 100,
    "seq": 8,
    "maxPositions": 16,
    "layerNormEps": 1e-5,
}
HIDDEN = int(CONFIG["hidden"])
LN_EPS = float(CONFIG["layerNormEps"])
MAX_POS = int(CONFIG["maxPositions"])
#: The cache exports' position table: a 32-token prompt plus 32 new tokens fit.
CACHE_MAX_POS = 64


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class Attention(nn.Module):
    def __init__(self, heads: int, lora: bool, max_pos: int = MAX_POS) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = HIDDEN // heads
        causal = torch.tril(torch.ones((max_pos, max_pos), dtype=torch.bool)).view(1, 1, max_pos, max_pos)
        self.register_buffer("bias", causal, persistent=False)
        self.register_buffer("masked_bias", torch.tensor(-1e4), persistent=False)
        self.c_attn = Conv1D(HIDDEN, 3 * HIDDEN)
        self.c_proj = Conv1D(HIDDEN, HIDDEN)
        self.q_lora = LoraPair(HIDDEN, HIDDEN) if lora else None
        self.v_lora = LoraPair(HIDDEN, HIDDEN) if lora else None

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.size()[:-1] + (self.heads, self.head_dim))
        return x.permute(0, 2, 1, 3)

    def merge_heads(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 1, 3).contiguous()
        return x.view(x.size()[:-2] + (self.heads * self.head_dim,))

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        weights = torch.matmul(q, k.transpose(-1, -2))
        weights = weights / torch.full([], v.size(-1) ** 0.5, dtype=weights.dtype)
        query_length, key_length = q.size(-2), k.size(-2)
        causal_mask = self.bias[:, :, key_length - query_length : key_length, :key_length]
        weights = torch.where(causal_mask, weights, self.masked_bias.to(weights.dtype))
        weights = nn.functional.softmax(weights, dim=-1)
        return torch.matmul(weights, v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.c_attn(x).split(HIDDEN, dim=2)
        if self.q_lora is not None and self.v_lora is not None:
            q = q + self.q_lora(x)
            v = v + self.v_lora(x)
        out = self.merge_heads(self.attend(self.split_heads(q), self.split_heads(k), self.split_heads(v)))
        return self.c_proj(out)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c_fc = Conv1D(HIDDEN, int(CONFIG["ffn"]))
        self.c_proj = Conv1D(int(CONFIG["ffn"]), HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(gelu_new(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.attn = Attention(heads, lora)
        self.ln_2 = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.mlp = MLP()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.wte = nn.Embedding(int(CONFIG["vocab"]), HIDDEN)
        self.wpe = nn.Embedding(MAX_POS, HIDDEN)
        self.h = nn.ModuleList([Block(heads, lora) for _ in range(int(CONFIG["layers"]))])
        self.ln_f = nn.LayerNorm(HIDDEN, eps=LN_EPS)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        position_ids = torch.arange(0, input_ids.size(-1), dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(position_ids)
        for block in self.h:
            x = block(x)
        return self.ln_f(x)


class GPT2LMHeadModel(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.transformer = Transformer(heads, lora)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # Tied lm_head: the logits reuse the token embedding, transposed.
        return nn.functional.linear(self.transformer(input_ids), self.transformer.wte.weight)


class CacheAttention(Attention):
    """Attention over the cached keys/values of earlier positions plus this call's (HF's layer_past).

    Returns the concatenated keys and values as the layer's `present`. The causal mask is the
    bias buffer sliced as bias[:, :, k - q : k, :k] (q new positions, k = past + q keys).
    """

    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__(heads, lora, CACHE_MAX_POS)

    def forward(self, x: Tensor, past_k: Tensor, past_v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        q, k, v = self.c_attn(x).split(HIDDEN, dim=2)
        if self.q_lora is not None and self.v_lora is not None:
            q = q + self.q_lora(x)
            v = v + self.v_lora(x)
        k = torch.cat((past_k, self.split_heads(k)), dim=-2)
        v = torch.cat((past_v, self.split_heads(v)), dim=-2)
        out = self.merge_heads(self.attend(self.split_heads(q), k, v))
        return self.c_proj(out), k, v


class CacheBlock(Block):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__(heads, lora)
        self.attn = CacheAttention(heads, lora)

    def forward(self, x: Tensor, past_k: Tensor, past_v: Tensor) -> Tuple[Tensor, Tensor, Tensor]:  # type: ignore[override]
        a, k, v = self.attn(self.ln_1(x), past_k, past_v)
        x = x + a
        return x + self.mlp(self.ln_2(x)), k, v


class CacheTransformer(Transformer):
    """Transformer over a KV cache: positions past..past+S-1 index a CACHE_MAX_POS-row table,
    past = the cached length (HF's past_length). Returns the hidden states and the presents."""

    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__(heads, lora)
        self.wpe = nn.Embedding(CACHE_MAX_POS, HIDDEN)
        self.h = nn.ModuleList([CacheBlock(heads, lora) for _ in range(int(CONFIG["layers"]))])

    def forward(self, input_ids: Tensor, *past: Tensor) -> Tuple[Tensor, ...]:  # type: ignore[override]
        past_length = past[0].size(-2)
        positions = torch.arange(past_length, input_ids.size(-1) + past_length, dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(positions)
        presents: List[Tensor] = []
        for i, block in enumerate(self.h):
            x, k, v = block(x, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        return (self.ln_f(x), *presents)


class GPT2CacheLMHeadModel(nn.Module):
    """GPT2LMHeadModel with a KV cache: forward(input_ids, past.0.key, past.0.value, ...) ->
    (logits, present.0.key, present.0.value, ...); the same parameter names as GPT2LMHeadModel."""

    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.transformer = CacheTransformer(heads, lora)

    def forward(self, input_ids: Tensor, *past: Tensor) -> Tuple[Tensor, ...]:
        hidden, *presents = self.transformer(input_ids, *past)
        return (nn.functional.linear(hidden, self.transformer.wte.weight), *presents)


def cache_state(state: StateDict) -> StateDict:
    """A variant's weights for the cache model: the position table grows from MAX_POS to
    CACHE_MAX_POS rows; the first MAX_POS rows are the variant's own (so prefills agree with
    the non-cache export), the rest come from one fixed stream shared by every variant."""
    wpe = state["transformer.wpe.weight"]
    extra = randn((CACHE_MAX_POS - MAX_POS, HIDDEN), generator("gpt2", "cache-positions"), 0.5)
    return {**state, "transformer.wpe.weight": torch.cat((wpe, extra), dim=0)}


def init_base(model: nn.Module, g: torch.Generator) -> None:
    for module in model.modules():
        if isinstance(module, Conv1D):
            module.init_base(g)
        elif isinstance(module, nn.Embedding):
            with torch.no_grad():
                module.weight.copy_(randn(module.weight.shape, g, 0.5))
        elif isinstance(module, nn.LayerNorm):
            init_norm(module.weight, module.bias, g)


def merge_lora(model: nn.Module) -> StateDict:
    """c_attn.weight[:, Q block] += A_q @ B_q * scale, and the same for the V block."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if isinstance(module, Attention) and module.q_lora is not None and module.v_lora is not None:
            key = f"{name}.c_attn.weight"
            w = state[key].clone()
            w[:, :HIDDEN] += module.q_lora.delta_in_out().detach()
            w[:, 2 * HIDDEN :] += module.v_lora.delta_in_out().detach()
            state[key] = w
    return without_lora(state)


def sample_inputs() -> Dict[str, torch.Tensor]:
    g = generator("gpt2", "input")
    return {"input_ids": torch.randint(0, int(CONFIG["vocab"]), (1, int(CONFIG["seq"])), generator=g)}


FAMILY = Family(
    name="gpt2",
    summary="GPT-2-style decoder (pre-LN, Conv1D/Gemm, fused c_attn, tanh-GeLU, tied lm_head)",
    config=CONFIG,
    export=ExportSpec(opset=13, input_names=["input_ids"], output_names=["logits"], dynamic_axes=None),
    build=lambda heads, lora: GPT2LMHeadModel(heads, lora),
    init_base=init_base,
    sample_inputs=sample_inputs,
    layer_of=layer_reader("transformer.h"),
    is_embedding=lambda name: name.startswith("transformer.wte.") or name.startswith("transformer.wpe."),
    lora_trains=lambda _name: False,
    merge_lora=merge_lora,
)
