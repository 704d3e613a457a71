"""The registry of every pipeline stage: the data library's (`sfdata.stage_runtime.DATA_STAGES`) plus training.

`sf run` and the single-stage commands look stages up here by name and run them through the one runtime,
`sfdata.stage_runtime.run_stage`. The order is the pipeline order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfdata.stage_runtime import DATA_STAGES, HUB_STAGES, Stage, check_needs
from sfdata.stage_runtime import run_stage as _run
from sfdata.store import RunDir

_TRAINING = (
    Stage(
        "sft",
        "sftrain.sft:sft_stage",
        "sftrain.sft:SFTStageConfig",
        reads=("traces", "labels"),
        writes=("models/sft",),
        needs=("build",),
    ),
    Stage(
        "eval",
        "sftrain.eval:eval_stage",
        "sftrain.eval:EvalConfig",
        reads=("questions", "models/sft"),
        writes=("eval",),
        creates_run=True,
    ),
    # arms (base / RL only / SFT -> RL ...), each trained and evaluated; resumable arm step by arm step
    Stage(
        "experiment",
        "sfdata.app.experiment:experiment_stage",
        "sfdata.app.experiment:ExperimentConfig",
        reads=("questions", "traces", "labels"),
        writes=("models", "eval"),
    ),
)
_BEFORE_ANALYSIS = ("questions", "generate", "grade", "reflect", "build")

# pipeline order: data stages, training, then skills/report (they also cover eval outputs)
STAGES: dict[str, Stage] = {
    **{n: DATA_STAGES[n] for n in _BEFORE_ANALYSIS},
    **{s.name: s for s in _TRAINING},
    **{n: s for n, s in DATA_STAGES.items() if n not in _BEFORE_ANALYSIS},
}

# every stage a command runs: the pipeline's and the Hub's (`sf import`, `sf pull`; not run by `sf run`)
COMMAND_STAGES: dict[str, Stage] = {**HUB_STAGES, **STAGES}

__all__ = ["COMMAND_STAGES", "STAGES", "Stage", "check_needs", "get_stage", "run_stage"]


def get_stage(name: str) -> Stage:
    if name not in STAGES:
        raise KeyError(f"unknown stage {name!r}; known: {', '.join(STAGES)}")
    return STAGES[name]


def run_stage(
    run: RunDir,
    stage: Stage | str,
    cfg: Any = None,
    *,
    force: bool = False,
    key: str | None = None,
    log: Callable[[str], None] = lambda msg: None,
    **kwargs: Any,
) -> dict[str, Any]:
    """`sfdata.stage_runtime.run_stage` with stages named as in the registry."""
    return _run(
        run, get_stage(stage) if isinstance(stage, str) else stage, cfg, force=force, key=key, log=log, **kwargs
    )
