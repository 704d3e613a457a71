"""The paper's comparison in one stage: arms such as RL only, SkillFactory SFT -> RL, STaR SFT -> RL.

An arm is a chain of training steps from the base model (`base` has none, `rl_only` is GRPO,
`skillfactory` is SFT on the run's SkillFactory traces then GRPO, `star` is SFT on the run's STaR
traces then GRPO, and a config may add arms, e.g. SFT on a published set first). Every arm shares the
same training questions (the run's traces), the same RL settings and questions (one `rl` section) and
one held-out eval set (one `eval` section). Each step is a stage run (manifest entry `ARM/STEP`) whose
model lands in `RUN/models/ARM/STEP`, so a rerun skips finished arm steps and retrains (dropping stale
eval/rl_log rows) only what changed or went missing. GRPO writes skill use per step to
`rl_log`. Once every arm is trained, all models (the base model and each step's) are evaluated on one
held-out set, disjoint from everything any arm trained on (eval rows carry the arm; stage = the step
name), and the table of `sf query experiment_table` is written to RUN/report/.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sfdata.stage_runtime import Stage
from sfdata.stagecfg import from_dict
from sfdata.store import RunDir

STEP_KINDS = ("sft", "rl")
RUN_TRACES = "traces"  # sft data: the run's SkillFactory traces (the main set; default mix unless `formats`)
RUN_STAR = "star"  # sft data: the run's STaR traces (correct responses only, no restructuring)


@dataclass
class StepConfig:
    """One training step of an arm."""

    kind: str  # "sft" | "rl"
    name: str = ""  # folder under RUN/models/ARM/ and the eval stage label; default = kind
    data: str = RUN_TRACES  # sft only: "traces", "star", or a local file/folder or Hub id (e.g. R1-annotated)
    formats: tuple[str, ...] | None = None  # sft on "traces": formats/sets to read (None = the default SFT mix)
    config: str | None = "sft_train"  # sft on a Hub/local set: its config name
    overrides: dict[str, Any] = field(default_factory=dict)  # this step only: SFTRunConfig/RLRunConfig fields

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> StepConfig:
        step = from_dict(cls, d)
        if step.kind not in STEP_KINDS:
            raise ValueError(f"step kind {step.kind!r} unknown; use one of {', '.join(STEP_KINDS)}")
        step.name = step.name or step.kind
        step.formats = tuple(step.formats) if step.formats is not None else None
        if step.formats:
            from sfdata.factory.mix import selection

            selection(step.formats)  # unknown format or set names fail here, not hours into a run
        return step


@dataclass
class ArmConfig:
    name: str
    steps: tuple[StepConfig, ...] = ()

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any] | None) -> ArmConfig:
        d = dict(d or {})
        unknown = sorted(set(d) - {"steps"})
        if unknown:
            raise ValueError(f"arm {name!r}: unknown option(s) {', '.join(unknown)}; an arm has only `steps`")
        steps = tuple(StepConfig.from_dict(s) for s in d.get("steps", []))
        names = [s.name for s in steps]
        if len(set(names)) != len(names) or "base" in names:
            raise ValueError(f"arm {name!r}: step names must be distinct and not 'base' (got {names})")
        return cls(name, steps)


BUILTIN_ARMS: dict[str, dict[str, Any]] = {
    "base": {"steps": []},
    "rl_only": {"steps": [{"kind": "rl"}]},
    "skillfactory": {"steps": [{"kind": "sft", "data": RUN_TRACES}, {"kind": "rl"}]},
    "star": {"steps": [{"kind": "sft", "data": RUN_STAR}, {"kind": "rl"}]},
}


@dataclass
class ExperimentConfig:
    """`[experiment]` section: which arms, and the SFT / RL / eval settings they all share."""

    model: str | None = None  # the base model every arm starts from (None = embedded SmolLM2)
    arms: tuple[str, ...] = ("base", "rl_only", "skillfactory", "star")
    arm: dict[str, dict[str, Any]] = field(default_factory=dict)  # arm definitions beyond (or replacing) built-ins
    sft: dict[str, Any] = field(default_factory=dict)  # SFTRunConfig fields shared by every SFT step
    rl: dict[str, Any] = field(default_factory=dict)  # RLRunConfig fields shared by every GRPO step
    eval: dict[str, Any] = field(default_factory=dict)  # EvalConfig fields: one held-out eval set for all arms
    skills: bool = True  # detect skills on the eval outputs so the table has skill-use columns
    # how every question is asked, "VARIANT, K-shot": the SFT examples' user turns (on the run's traces), the RL
    # prompts and the eval prompts alike (default: the paper's zero-shot `original` prompt, answer format included)
    prompt: str = "original, 0-shot"

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> ExperimentConfig:
        from sfdata.prompts import PromptSetup

        cfg = from_dict(cls, d)
        cfg.prompt = PromptSetup.parse(cfg.prompt).label
        cfg.arms = tuple(cfg.arms)
        cfg.arm_configs()  # validate everything now, not hours into a run
        cfg.eval_config()
        for arm in cfg.arm_configs():
            for step in arm.steps:
                step_config(cfg, step, "base", "out", Path("."))
        return cfg

    def arm_configs(self) -> list[ArmConfig]:
        known = {**BUILTIN_ARMS, **self.arm}
        missing = [a for a in self.arms if a not in known]
        if missing:
            raise ValueError(f"arm(s) {', '.join(missing)} not defined; built in: {', '.join(BUILTIN_ARMS)}")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms listed twice: {list(self.arms)}")
        return [ArmConfig.from_dict(a, known[a]) for a in self.arms]

    def eval_config(self):
        from sfdata.prompts import PromptSetup
        from sftrain.eval import EvalConfig

        p = PromptSetup.parse(self.prompt)
        return from_dict(EvalConfig, {"variant": p.variant, "fewshot": p.fewshot, **self.eval, "model": self.model})

    def prompt_setups(self) -> dict[str, str]:
        """Where -> how it asks: `eval` and every arm step that trains on prompts it renders (RL, SFT on the run's
        traces; SFT on an outside set keeps that set's user turns)."""
        from sftrain.eval import prompt_setup

        ev = self.eval_config()
        out = {"eval": prompt_setup(ev.variant, ev.fewshot if ev.fewshot is not None else 0)}
        for arm in self.arm_configs():
            for step in arm.steps:
                sc = step_config(self, step, "base", "out", Path("."))
                if getattr(sc, "prompt", None) is not None:
                    out[f"{arm.name}/{step.name}"] = sc.prompt
        return out

    def check_prompts(self) -> str:
        """The experiment's one prompt setup; a clear error when SFT, RL and eval would be asked differently."""
        setups = self.prompt_setups()
        if len(set(setups.values())) > 1:
            got = ", ".join(f"{k}: {v!r}" for k, v in setups.items())
            raise ValueError(
                f"[experiment]: SFT, RL and eval prompts differ ({got}); set one `prompt` in [experiment] "
                "and leave variant/fewshot/prompt out of its sections"
            )
        return next(iter(setups.values()))


def step_config(cfg: ExperimentConfig, step: StepConfig, model: str | None, out: str, run_path: Path):
    """The SFTRunConfig / RLRunConfig of one step (shared settings, then the step's own overrides)."""
    from sftrain.rl import RLRunConfig
    from sftrain.sft import SFTRunConfig

    if step.kind == "rl":
        raw = {"prompt": cfg.prompt, **cfg.rl, **step.overrides, "model": model, "output_dir": out}
        # every arm keeps the run's training questions out of RL, so all arms draw the same RL questions
        raw["exclude_from"] = (*tuple(raw.get("exclude_from") or ()), str(run_path))
        return from_dict(RLRunConfig, raw)
    if step.data == RUN_TRACES:  # None = the main set's default SFT mix (sfdata.factory.mix)
        data, formats = str(run_path), step.formats
    elif step.data == RUN_STAR:
        data, formats = str(run_path), (RUN_STAR,)
    else:
        data, formats = step.data, None
    own = {"prompt": cfg.prompt} if data == str(run_path) else {}  # the run's traces: asked as RL and eval ask
    raw = {**own, **cfg.sft, **step.overrides, "data": data, "model": model, "output_dir": out, "config": step.config}
    if step.data not in (RUN_TRACES, RUN_STAR):
        # a published set (e.g. R1-annotated) is trained in the prompt every arm is evaluated in, and its
        # questions are recorded so the held-out eval keeps them out (sftrain.sft.sft_rows)
        raw["prompt_variant"] = cfg.eval_config().variant
    if formats is not None:
        raw["formats"] = formats
    return from_dict(SFTRunConfig, raw)


def step_stage(run: RunDir, arm: str, step: StepConfig, step_cfg) -> Stage:
    """The stage record of one arm step: it writes RUN/models/ARM/STEP and reads what the model came from
    (the run's traces and labels for SFT on them, the previous step's model folder), so the runtime's
    content fingerprints decide when it trains again (a rebuild, a relabel or a retrained parent)."""
    reads: tuple[str, ...] = ()
    if step.kind == "sft" and Path(step_cfg.data) == run.path:
        reads += ("traces", "labels")
    parent = Path(step_cfg.model) if step_cfg.model else None
    if parent is not None and parent.is_relative_to(run.path):
        reads += (parent.relative_to(run.path).as_posix(),)
    out = Path(step_cfg.output_dir).relative_to(run.path).as_posix()
    return Stage(f"{arm}/{step.name}", "sfdata.app.experiment:arm_step_stage", None, reads=reads, writes=(out,))


def arm_step_stage(run: RunDir, arm: str, step: StepConfig, step_cfg, log=print) -> dict[str, Any]:
    """Train one arm step (its stale eval / rl_log rows are dropped first). Writes RUN/models/ARM/STEP."""
    dropped = run.drop_rows("eval", arm=arm, stage=step.name)
    if step.kind == "rl":
        dropped += run.drop_rows("rl_log", arm=arm)
    log(f"[experiment] {arm}/{step.name}: training ({step.kind})" + (f", {dropped} stale rows dropped" * bool(dropped)))
    if step.kind == "rl":
        from sftrain.rl import run_rl
        from sftrain.rl_log import RLSkillLog

        summary = run_rl(step_cfg, log=log, skill_log=RLSkillLog(run, arm=arm))
    else:
        from sftrain.sft import run_sft

        summary = run_sft(step_cfg, log=log)
    return {k: v for k, v in summary.items() if k in ("steps", "seconds", "examples", "tokens", "rewards")}


def run_step(run: RunDir, arm: str, step: StepConfig, step_cfg, log=print) -> dict[str, Any]:
    """One arm step as a stage run (manifest entry `ARM/STEP`): skipped while its config, its inputs and
    its model folder are as recorded."""
    from sfdata.stage_runtime import run_stage

    stage = step_stage(run, arm, step, step_cfg)
    info = run_stage(run, stage, asdict(step_cfg), key=stage.name, log=log, arm=arm, step=step, step_cfg=step_cfg)
    if info.get("skipped"):
        log(f"[experiment] {arm}/{step.name}: done already, skipping")
    return info


def train_arm(run: RunDir, cfg: ExperimentConfig, arm: ArmConfig, log=print) -> list[dict[str, Any]]:
    """Train an arm's chain step by step; [{stage, model, ...}] to evaluate (the base model for `base`)."""

    if not arm.steps:
        return [{"stage": "base", "model": cfg.model}]
    out_steps = []
    model = cfg.model
    for step in arm.steps:
        out = run.path / "models" / arm.name / step.name
        step_cfg = step_config(cfg, step, model, str(out), run.path)
        done = run_step(run, arm.name, step, step_cfg, log=log)
        model = str(out)
        out_steps.append({"stage": step.name, "model": model, **done})
    return out_steps


def evaluate_arms(run: RunDir, eval_cfg, trained: dict[str, list[dict[str, Any]]], log=print) -> dict[str, Any]:
    """Every arm's models on ONE held-out set: disjoint from the run's questions and from everything any
    arm trained on (SFT data, RL questions), asked with one prompt (the run's demonstrations)."""
    from sftrain.eval import eval_questions, evaluate_model, prompt_setup, resolve_fewshot

    fewshot = resolve_fewshot(run, eval_cfg)
    models = [eval_cfg.model] + [s["model"] for steps in trained.values() for s in steps]
    questions, removed = eval_questions(run, eval_cfg, models, fewshot, log)
    for arm, steps in trained.items():
        for s in steps:
            s["eval"] = evaluate_model(
                run, s["model"], s["stage"], eval_cfg, log=log, questions=questions, fewshot=fewshot, arm=arm
            )
    return {"prompt": prompt_setup(eval_cfg.variant, fewshot), "overlap_removed": removed}


def experiment_stage(run: RunDir, cfg: ExperimentConfig, log=print) -> dict[str, Any]:
    """Train every arm (resumable step by step), evaluate all models on one held-out set, write the table.

    Reads: questions, traces (+ labels) for SFT on the run's data; eval (resume), rl_log (resume).
    Writes: RUN/models/ARM/STEP checkpoints, eval (rows with `arm`), rl_log, skills (when `skills`),
    RUN/report/experiment_table.{csv,md,png} and rl_skill_use.{csv,png}.
    """
    from sfdata.app.experiment_report import write_experiment_report

    prompt = cfg.check_prompts()
    log(f"[experiment] every arm is asked {prompt!r} (SFT user turns, RL prompts, eval)")
    trained = {arm.name: train_arm(run, cfg, arm, log=log) for arm in cfg.arm_configs()}
    held_out = evaluate_arms(run, cfg.eval_config(), trained, log=log)
    if cfg.skills:
        from sfdata.skills import skills_stage

        skills_stage(run)
    report = write_experiment_report(run, cfg.arms)
    return {
        "prompt": prompt,
        "arms": trained,
        "eval": held_out,
        "table": report["table"].to_dicts(),
        "report": report["files"],
    }
