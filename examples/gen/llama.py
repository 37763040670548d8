"""LLaMA-style decoder, written the way HF transformers' LlamaForCausalLM writes it.

Token embeddings, RMSNorm in torch ops (x * rsqrt(mean(x^2) + eps) * w), rotary
position embeddings whose cos/sin are computed inside the model from the positions
(so Range, Sin and Cos survive constant folding), rotate_half as Slice/Neg/Concat,
a causal mask built like HF's _make_causal_mask (full of finfo.min, zeroed where
col <= row), SiLU-gated MLP, no biases, final RMSNorm and an untied lm_head.
Exported with a dynamic sequence axis.
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch
from torch import Tensor, nn

from common import ExportSpec, Family, Linear, generator, init_norm, layer_reader, merge_linear_loras, randn

CONFIG = {
    "layers": 4,
    "hidden": 32,
    "heads": 4,
    "ffn": 48,
    "vocab": 100,
    "seq": 12,
    "rmsNormEps": 1e-6,
    "ropeTheta": 10000.0,
}
HIDDEN = int(CONFIG["hidden"])
RMS_EPS = float(CONFIG["rmsNormEps"])


class RMSNorm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(HIDDEN))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(variance + RMS_EPS))


class RotaryEmbedding(nn.Module):
    """cos/sin tables for the positions 0..S-1, computed at run time from the sequence length."""

    def __init__(self, head_dim: int) -> None:
        super().__init__()
        exponents = torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim
        self.register_buffer("inv_freq", 1.0 / (float(CONFIG["ropeTheta"]) ** exponents), persistent=False)

    def forward(self, seq_len: torch.Tensor | int) -> Tuple[torch.Tensor, torch.Tensor]:
        positions = torch.arange(seq_len, dtype=torch.int64).to(torch.float32)
        freqs = positions[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None, :, :], emb.sin()[None, None, :, :]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def causal_mask(seq_len: torch.Tensor | int) -> torch.Tensor:
    """[1, 1, S, S]: 0 on and below the diagonal, finfo(float32).min above it."""
    mask = torch.full((seq_len, seq_len), torch.finfo(torch.float32).min)
    cond = torch.arange(mask.size(-1))
    mask = mask.masked_fill(cond < (cond + 1).view(mask.size(-1), 1), 0.0)
    return mask[None, None, :, :]


class Attention(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = HIDDEN // heads
        self.q_proj = Linear(HIDDEN, HIDDEN, bias=False, lora=lora)
        self.k_proj = Linear(HIDDEN, HIDDEN, bias=False)
        self.v_proj = Linear(HIDDEN, HIDDEN, bias=False, lora=lora)
        self.o_proj = Linear(HIDDEN, HIDDEN, bias=False)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.size()
        return x.view(batch, seq, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
        batch, seq, _ = x.size()
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
        probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).contiguous().reshape(batch, seq, HIDDEN)
        return self.o_proj(out)


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        ffn = int(CONFIG["ffn"])
        self.gate_proj = Linear(HIDDEN, ffn, bias=False)
        self.up_proj = Linear(HIDDEN, ffn, bias=False)
        self.down_proj = Linear(ffn, HIDDEN, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(nn.functional.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm()
        self.self_attn = Attention(heads, lora)
        self.post_attention_layernorm = RMSNorm()
        self.mlp = MLP()

    def forward(self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor) -> Tensor:
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaModel(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(int(CONFIG["vocab"]), HIDDEN)
        self.layers = nn.ModuleList([DecoderLayer(heads, lora) for _ in range(int(CONFIG["layers"]))])
        self.norm = RMSNorm()
        self.rotary_emb = RotaryEmbedding(HIDDEN // heads)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        seq_len = input_ids.size(1)
        cos, sin = self.rotary_emb(seq_len)
        mask = causal_mask(seq_len)
        x = self.embed_tokens(input_ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        return self.norm(x)


class LlamaForCausalLM(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.model = LlamaModel(heads, lora)
        self.lm_head = Linear(HIDDEN, int(CONFIG["vocab"]), bias=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.model(input_ids))


def rotary_from(inv_freq: Tensor, past: Tensor | int, seq_len: Tensor | int) -> Tuple[Tensor, Tensor]:
    """cos/sin for the positions past..past+S-1 (HF's position_ids when a cache is given)."""
    positions = torch.arange(past, past + seq_len, dtype=torch.int64).to(torch.float32)
    freqs = positions[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[None, None, :, :], emb.sin()[None, None, :, :]


def causal_mask_with_past(seq_len: Tensor | int, past: Tensor | int) -> Tensor:
    """[1, 1, S, past + S]: HF's _make_causal_mask with past_key_values_length (zeros for the past)."""
    mask = causal_mask(seq_len)[0, 0]
    mask = torch.cat((torch.zeros(seq_len, past, dtype=mask.dtype), mask), dim=-1)
    return mask[None, None, :, :]


class CacheAttention(Attention):
    """Attention.forward over cached keys/values: the cache holds keys after the rotation."""

    def forward(  # type: ignore[override]
        self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, past_k: Tensor, past_v: Tensor
    ) -> Tuple[Tensor, Tensor, Tensor]:
        batch, seq, _ = x.size()
        q = self.split_heads(self.q_proj(x))
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        q = q * cos + rotate_half(q) * sin
        k = torch.cat((past_k, k * cos + rotate_half(k) * sin), dim=2)
        v = torch.cat((past_v, v), dim=2)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.head_dim) + mask
        probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
        out = torch.matmul(probs, v).transpose(1, 2).contiguous().reshape(batch, seq, HIDDEN)
        return self.o_proj(out), k, v


class CacheDecoderLayer(DecoderLayer):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__(heads, lora)
        self.self_attn = CacheAttention(heads, lora)

    def forward(  # type: ignore[override]
        self, x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor, past_k: Tensor, past_v: Tensor
    ) -> Tuple[Tensor, Tensor, Tensor]:
        a, k, v = self.self_attn(self.input_layernorm(x), cos, sin, mask, past_k, past_v)
        x = x + a
        return x + self.mlp(self.post_attention_layernorm(x)), k, v


class CacheLlamaModel(LlamaModel):
    """LlamaModel over a KV cache: rotary angles and mask for positions past..past+S-1."""

    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__(heads, lora)
        self.layers = nn.ModuleList([CacheDecoderLayer(heads, lora) for _ in range(int(CONFIG["layers"]))])

    def forward(self, input_ids: Tensor, *past: Tensor) -> Tuple[Tensor, ...]:  # type: ignore[override]
        seq_len = input_ids.size(1)
        past_length = past[0].size(2)
        cos, sin = rotary_from(self.rotary_emb.inv_freq, past_length, seq_len)
        mask = causal_mask_with_past(seq_len, past_length)
        x = self.embed_tokens(input_ids)
        presents: List[Tensor] = []
        for i, layer in enumerate(self.layers):
            x, k, v = layer(x, cos, sin, mask, past[2 * i], past[2 * i + 1])
            presents += [k, v]
        return (self.norm(x), *presents)


class LlamaCacheForCausalLM(nn.Module):
    """LlamaForCausalLM with a KV cache: forward(input_ids, past.0.key, past.0.value, ...) ->
    (logits, present.0.key, present.0.value, ...); the same parameter names as LlamaForCausalLM."""

    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.model = CacheLlamaModel(heads, lora)
        self.lm_head = Linear(HIDDEN, int(CONFIG["vocab"]), bias=False)

    def forward(self, input_ids: Tensor, *past: Tensor) -> Tuple[Tensor, ...]:
        hidden, *presents = self.model(input_ids, *past)
        return (self.lm_head(hidden), *presents)


def init_base(model: nn.Module, g: torch.Generator) -> None:
    for module in model.modules():
        if isinstance(module, Linear):
            module.init_base(g)
        elif isinstance(module, nn.Embedding):
            with torch.no_grad():
                module.weight.copy_(randn(module.weight.shape, g, 1.0))
        elif isinstance(module, RMSNorm):
            init_norm(module.weight, None, g)


def sample_inputs() -> Dict[str, torch.Tensor]:
    g = generator("llama", "input")
    ids = torch.randint(3, int(CONFIG["vocab"]), (1, int(CONFIG["seq"])), generator=g)
    ids[0, 0] = 1  # <s>
    return {"input_ids": ids}


FAMILY = Family(
    name="llama",
    summary="LLaMA-style decoder (RMSNorm, rotary embeddings, SiLU-gated MLP, no biases, untied lm_head)",
    config=CONFIG,
    export=ExportSpec(
        opset=17,
        input_names=["input_ids"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {1: "sequence"}, "logits": {1: "sequence"}},
    ),
    build=lambda heads, lora: LlamaForCausalLM(heads, lora),
    init_base=init_base,
    sample_inputs=sample_inputs,
    layer_of=layer_reader("model.layers"),
    is_embedding=lambda name: name.startswith("model.embed_tokens."),
    lora_trains=lambda _name: False,
    merge_lora=merge_linear_loras,
)
