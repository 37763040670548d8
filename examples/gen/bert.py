"""BERT-style encoder for sequence classification, written the way HF transformers writes it.

Word + position + token-type embeddings, embedding LayerNorm, post-LN encoder layers
with multi-head self-attention under the additive mask (1 - mask) * -10000, exact
erf-GeLU spelled out as HF exports it, a tanh pooler on the first token and a
2-way classifier. Exported with a dynamic sequence axis, so the export keeps the
Shape -> Gather -> Unsqueeze -> Concat -> Reshape plumbing.
"""

from __future__ import annotations

import math
from typing import Dict

import torch
from torch import nn

from common import ExportSpec, Family, Linear, generator, init_norm, layer_reader, merge_linear_loras, randn

CONFIG = {
    "layers": 4,
    "hidden": 32,
    "heads": 4,
    "ffn": 64,
    "vocab": 100,
    "seq": 16,
    "maxPositions": 32,
    "typeVocab": 2,
    "labels": 2,
    "layerNormEps": 1e-12,
}
HIDDEN = int(CONFIG["hidden"])
LN_EPS = float(CONFIG["layerNormEps"])


def gelu_erf(x: torch.Tensor) -> torch.Tensor:
    """HF's exact GeLU as it appears in exports: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    return x * 0.5 * (1.0 + torch.erf(x / math.sqrt(2.0)))


class Embeddings(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(int(CONFIG["vocab"]), HIDDEN)
        self.position_embeddings = nn.Embedding(int(CONFIG["maxPositions"]), HIDDEN)
        self.token_type_embeddings = nn.Embedding(int(CONFIG["typeVocab"]), HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        max_pos = int(CONFIG["maxPositions"])
        self.register_buffer("position_ids", torch.arange(max_pos).expand((1, -1)), persistent=False)
        self.register_buffer("token_type_ids", torch.zeros((1, max_pos), dtype=torch.long), persistent=False)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        batch, seq_length = input_ids.size()
        position_ids = self.position_ids[:, :seq_length]
        token_type_ids = self.token_type_ids[:, :seq_length].expand(batch, seq_length)
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        return self.LayerNorm(embeddings)


class SelfAttention(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_size = HIDDEN // heads
        self.query = Linear(HIDDEN, HIDDEN, lora=lora)
        self.key = Linear(HIDDEN, HIDDEN)
        self.value = Linear(HIDDEN, HIDDEN, lora=lora)

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.size()[:-1] + (self.heads, self.head_size))
        return x.permute(0, 2, 1, 3)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        q = self.split_heads(self.query(hidden))
        k = self.split_heads(self.key(hidden))
        v = self.split_heads(self.value(hidden))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.head_size)
        probs = nn.functional.softmax(scores + additive_mask, dim=-1)
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        return context.view(context.size()[:-2] + (HIDDEN,))


class DenseAddNorm(nn.Module):
    """BertSelfOutput / BertOutput: LayerNorm(dense(x) + residual), post-LN."""

    def __init__(self, d_in: int) -> None:
        super().__init__()
        self.dense = Linear(d_in, HIDDEN)
        self.LayerNorm = nn.LayerNorm(HIDDEN, eps=LN_EPS)

    def forward(self, x: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(x) + residual)


class Attention(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.self = SelfAttention(heads, lora)
        self.output = DenseAddNorm(HIDDEN)

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        return self.output(self.self(hidden, additive_mask), hidden)


class Intermediate(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = Linear(HIDDEN, int(CONFIG["ffn"]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu_erf(self.dense(x))


class Layer(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.attention = Attention(heads, lora)
        self.intermediate = Intermediate()
        self.output = DenseAddNorm(int(CONFIG["ffn"]))

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        attended = self.attention(hidden, additive_mask)
        return self.output(self.intermediate(attended), attended)


class Encoder(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.layer = nn.ModuleList([Layer(heads, lora) for _ in range(int(CONFIG["layers"]))])

    def forward(self, hidden: torch.Tensor, additive_mask: torch.Tensor) -> torch.Tensor:
        for layer in self.layer:
            hidden = layer(hidden, additive_mask)
        return hidden


class Pooler(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.dense = Linear(HIDDEN, HIDDEN)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.dense(hidden[:, 0]))


class BertModel(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.embeddings = Embeddings()
        self.encoder = Encoder(heads, lora)
        self.pooler = Pooler()

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # HF's get_extended_attention_mask: [B, S] -> [B, 1, 1, S], 0 where attended, -10000 where padded.
        extended = attention_mask[:, None, None, :].to(dtype=torch.float32)
        additive_mask = (1.0 - extended) * -10000.0
        return self.pooler(self.encoder(self.embeddings(input_ids), additive_mask))


class BertForSequenceClassification(nn.Module):
    def __init__(self, heads: int, lora: bool) -> None:
        super().__init__()
        self.bert = BertModel(heads, lora)
        self.classifier = Linear(HIDDEN, int(CONFIG["labels"]))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.bert(input_ids, attention_mask))


def init_base(model: nn.Module, g: torch.Generator) -> None:
    for module in model.modules():
        if isinstance(module, Linear):
            module.init_base(g)
        elif isinstance(module, nn.Embedding):
            with torch.no_grad():
                module.weight.copy_(randn(module.weight.shape, g, 1.0))
        elif isinstance(module, nn.LayerNorm):
            init_norm(module.weight, module.bias, g)


def sample_inputs() -> Dict[str, torch.Tensor]:
    """[CLS] 10 random tokens [SEP], then padding: the mask's trailing zeros exercise the additive mask."""
    seq, real = int(CONFIG["seq"]), 12
    g = generator("bert", "input")
    body = torch.randint(3, int(CONFIG["vocab"]), (real - 2,), generator=g)
    ids = torch.cat([torch.tensor([1]), body, torch.tensor([2]), torch.zeros(seq - real, dtype=torch.long)])
    mask = torch.cat([torch.ones(real, dtype=torch.long), torch.zeros(seq - real, dtype=torch.long)])
    return {"input_ids": ids[None, :], "attention_mask": mask[None, :]}


FAMILY = Family(
    name="bert",
    summary="BERT-style encoder, sequence classification (post-LN, erf-GeLU, tanh pooler)",
    config=CONFIG,
    export=ExportSpec(
        opset=14,
        input_names=["input_ids", "attention_mask"],
        output_names=["logits"],
        dynamic_axes={"input_ids": {1: "sequence"}, "attention_mask": {1: "sequence"}},
    ),
    build=lambda heads, lora: BertForSequenceClassification(heads, lora),
    init_base=init_base,
    sample_inputs=sample_inputs,
    layer_of=layer_reader("bert.encoder.layer"),
    is_embedding=lambda name: name.startswith("bert.embeddings."),
    lora_trains=lambda name: name.startswith("classifier."),
    merge_lora=merge_linear_loras,
)
