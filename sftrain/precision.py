"""One decision for training precision, made from the device.

Why: with bf16 *weights*, AdamW at lr 1e-6 loses almost every update (a bf16 weight near 0.02 moves in
steps of ~1e-4, so a 1e-6 change rounds away). So on CUDA we keep fp32 master weights and compute in
bf16 (autocast), which is also what accelerate/FSDP and DeepSpeed ZeRO do with `mixed_precision: bf16`.
Pure bf16 weights only when the user asks for them (`precision = "bf16"`, e.g. to fit memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODES = ("auto", "fp32", "bf16-mixed", "fp16-mixed", "bf16")


@dataclass(frozen=True)
class Precision:
    mode: str  # the resolved mode (never "auto")
    load_dtype: str  # dtype the weights are loaded (and kept, = master weights) in: "float32" | "bfloat16"
    bf16: bool  # bf16 autocast compute (TRL/transformers `bf16=`)
    fp16: bool  # fp16 autocast compute with loss scaling (`fp16=`)
    use_cpu: bool  # train on CPU (`use_cpu=`)

    @property
    def torch_dtype(self):
        import torch

        return getattr(torch, self.load_dtype)

    def trainer_args(self) -> dict[str, Any]:
        """The TrainingArguments fields that carry this decision (SFTConfig and GRPOConfig alike)."""
        return {"bf16": self.bf16, "fp16": self.fp16, "use_cpu": self.use_cpu}


def choose_precision(device: str, capability: tuple[int, int] | None = None, mode: str = "auto") -> Precision:
    """Precision for training on `device` ("cuda", "cpu", "mps", ...); `capability` is the CUDA compute
    capability (bf16 needs >= 8.0, Ampere). Passing both in makes the CUDA answer testable without a GPU.

    auto: CUDA with bf16 -> fp32 master weights + bf16 compute; older CUDA -> fp32 + fp16 compute;
    anything else -> plain fp32.
    """
    if mode not in MODES:
        raise ValueError(f"unknown precision {mode!r}; known: {', '.join(MODES)}")
    kind = str(device).split(":")[0]
    cuda = kind == "cuda"
    bf16_ok = cuda and (capability is None or tuple(capability) >= (8, 0))
    if mode == "auto":
        mode = ("bf16-mixed" if bf16_ok else "fp16-mixed") if cuda else "fp32"
    if mode in ("bf16-mixed", "fp16-mixed") and not cuda:
        raise ValueError(f"precision {mode!r} needs a CUDA GPU; this device is {device!r} (use fp32)")
    if mode == "bf16-mixed" and not bf16_ok:
        raise ValueError(f"precision 'bf16-mixed' needs compute capability >= 8.0, this GPU has {capability}")
    return Precision(
        mode=mode,
        load_dtype="bfloat16" if mode == "bf16" else "float32",
        bf16=mode in ("bf16-mixed", "bf16"),
        fp16=mode == "fp16-mixed",
        use_cpu=not cuda,
    )


def current_precision(mode: str = "auto") -> Precision:
    """`choose_precision` for the device this process trains on."""
    import torch

    if torch.cuda.is_available():
        return choose_precision("cuda", torch.cuda.get_device_capability(), mode)
    return choose_precision("cpu", None, mode)
