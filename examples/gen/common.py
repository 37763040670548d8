"""Building blocks shared by the three example families.

The families (bert.py, gpt2.py, llama.py) describe their architecture with these
modules; variants.py derives the fine-tuned variants from a base model, and
export_all.py exports everything. Everything here is deterministic: every random
draw goes through a torch.Generator seeded from a string, so re-running the
generator reproduces the .onnx files byte for byte on the same torch version.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

StateDict = Dict[str, torch.Tensor]

LORA_RANK = 4
LORA_ALPHA = 8.0


def generator(*parts: str) -> torch.Generator:
    """A CPU generator seeded from a name, so each (family, variant, purpose) has its own stream."""
    digest = hashlib.sha256("/".join(parts).encode()).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF)
    return g


def randn(shape: Sequence[int], g: torch.Generator, std: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float32) * std


class LoraPair(nn.Module):
    """A rank-r LoRA adapter: delta(x) = (x @ lora_A) @ lora_B * alpha / r.

    Stored as lora_A [in, r] and lora_B [r, out] (the transpose of PEFT's nn.Linear
    layout) so the exported MatMuls use the parameters as they are: no transpose
    gets constant-folded into an anonymous initializer, and the ONNX initializer
    names keep `lora_A` / `lora_B`.
    """

    def __init__(self, d_in: int, d_out: int, rank: int = LORA_RANK, alpha: float = LORA_ALPHA) -> None:
        super().__init__()
        self.lora_A = nn.Parameter(torch.zeros(d_in, rank))
        self.lora_B = nn.Parameter(torch.zeros(rank, d_out))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(torch.matmul(x, self.lora_A), self.lora_B) * self.scale

    def delta_in_out(self) -> torch.Tensor:
        """The merged update in [in, out] layout: x @ delta == forward(x)."""
        return torch.matmul(self.lora_A, self.lora_B) * self.scale

    def init_nonzero(self, g: torch.Generator) -> None:
        """Adapters as after training: A and B both non-zero (PEFT starts B at zero)."""
        d_in, rank = self.lora_A.shape
        with torch.no_grad():
            self.lora_A.copy_(randn(self.lora_A.shape, g, 1.0 / math.sqrt(d_in)))
            self.lora_B.copy_(randn(self.lora_B.shape, g, 0.05))


class Linear(nn.Module):
    """nn.Linear's layout (weight [out, in], y = x W^T + b) with an optional LoRA adapter beside it.

    Exported like nn.Linear: on 3-d inputs torch emits MatMul with the transposed weight
    folded into an initializer named `onnx::MatMul_<n>`, on 2-d inputs a Gemm(transB=1)
    that keeps the parameter name. That anonymous naming is what real HF exports look like.
    """

    def __init__(self, d_in: int, d_out: int, bias: bool = True, lora: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_out, d_in))
        if bias:
            self.bias: Optional[nn.Parameter] = nn.Parameter(torch.zeros(d_out))
        else:
            self.register_parameter("bias", None)
        self.lora = LoraPair(d_in, d_out) if lora else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight, self.bias)
        if self.lora is not None:
            y = y + self.lora(x)
        return y

    def init_base(self, g: torch.Generator) -> None:
        d_out, d_in = self.weight.shape
        with torch.no_grad():
            self.weight.copy_(randn((d_out, d_in), g, 1.0 / math.sqrt(d_in)))
            if self.bias is not None:
                self.bias.copy_(randn((d_out,), g, 0.1))


class Conv1D(nn.Module):
    """GPT-2's Conv1D: weight [in, out], y = x @ W + b (the parameter is used untransposed)."""

    def __init__(self, d_in: int, d_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(d_in, d_out))
        self.bias = nn.Parameter(torch.zeros(d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size_out = x.size()[:-1] + (self.weight.size(-1),)
        return torch.addmm(self.bias, x.view(-1, x.size(-1)), self.weight).view(size_out)

    def init_base(self, g: torch.Generator) -> None:
        d_in, d_out = self.weight.shape
        with torch.no_grad():
            self.weight.copy_(randn((d_in, d_out), g, 1.0 / math.sqrt(d_in)))
            self.bias.copy_(randn((d_out,), g, 0.1))


def init_norm(weight: torch.Tensor, bias: Optional[torch.Tensor], g: torch.Generator) -> None:
    """Norm gains near 1 and biases near 0, but not exactly: a pass must not rely on identity norms."""
    with torch.no_grad():
        weight.copy_(1.0 + randn(weight.shape, g, 0.1))
        if bias is not None:
            bias.copy_(randn(bias.shape, g, 0.1))


def perturb(
    state: StateDict, select: Callable[[str], bool], g: torch.Generator, rel: float = 0.1
) -> StateDict:
    """A fine-tuning stand-in: selected tensors move by `rel` times their RMS in random directions.

    Every selected float tensor changes in every element (a zero delta has probability 0),
    the others are returned as the very same tensors, so their exported bytes stay equal.
    """
    out: StateDict = {}
    for name, t in state.items():
        if select(name) and t.is_floating_point():
            rms = float(t.pow(2).mean().sqrt()) or 1.0
            out[name] = t + randn(t.shape, g, rel * rms)
        else:
            out[name] = t
    return out


def layer_reader(prefix: str) -> Callable[[str], Optional[int]]:
    """The transformer layer a parameter belongs to, from `<prefix>.<layer>.` at the start of its name."""
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")

    def layer_of(name: str) -> Optional[int]:
        m = pattern.match(name)
        return int(m.group(1)) if m else None

    return layer_of


def lora_keys(state: StateDict) -> List[str]:
    return [k for k in state if ".lora_A" in k or ".lora_B" in k]


def without_lora(state: StateDict) -> StateDict:
    drop = set(lora_keys(state))
    return {k: v for k, v in state.items() if k not in drop}


@dataclass(frozen=True)
class ExportSpec:
    opset: int
    input_names: List[str]
    output_names: List[str]
    dynamic_axes: Optional[Dict[str, Dict[int, str]]]


def export_onnx(model: nn.Module, inputs: Dict[str, torch.Tensor], spec: ExportSpec, path: str) -> None:
    model.eval()
    args = tuple(inputs[n] for n in spec.input_names)
    with torch.no_grad():
        torch.onnx.export(
            model,
            args,
            path,
            opset_version=spec.opset,
            input_names=spec.input_names,
            output_names=spec.output_names,
            dynamic_axes=spec.dynamic_axes,
            do_constant_folding=True,
        )


def run_torch(model: nn.Module, inputs: Dict[str, torch.Tensor], spec: ExportSpec) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(*(inputs[n] for n in spec.input_names))


@dataclass(frozen=True)
class Family:
    """What variants.py and export_all.py need to know about one model family."""

    name: str
    summary: str
    #: Architecture numbers, as written to manifest.json (layers, hidden, heads, ffn, vocab, seq, ...).
    config: Dict[str, float]
    export: ExportSpec
    #: A model with this many heads (and LoRA adapters on Q and V when lora=True), weights unset.
    build: Callable[[int, bool], nn.Module]
    #: Fills a freshly built model with the "pre-trained" weights.
    init_base: Callable[[nn.Module, torch.Generator], None]
    #: The sample input written to input.json.
    sample_inputs: Callable[[], Dict[str, torch.Tensor]]
    #: The transformer layer a parameter belongs to, None for embeddings and the head.
    layer_of: Callable[[str], Optional[int]]
    is_embedding: Callable[[str], bool]
    #: Parameters trained together with the LoRA adapters (PEFT's modules_to_save: BERT's classifier).
    lora_trains: Callable[[str], bool]
    #: The state dict of a LoRA model with the adapters folded into the base weights.
    merge_lora: Callable[[nn.Module], StateDict]

    @property
    def layers(self) -> int:
        return int(self.config["layers"])

    @property
    def heads(self) -> int:
        return int(self.config["heads"])


def merge_linear_loras(model: nn.Module) -> StateDict:
    """For families built from `Linear`: W[out, in] += (A @ B * scale)^T, adapters dropped."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    for name, module in model.named_modules():
        if isinstance(module, Linear) and module.lora is not None:
            key = f"{name}.weight"
            state[key] = state[key] + module.lora.delta_in_out().detach().t()
    return without_lora(state)
