"""`sf run CONFIG --dry-run`: validate a config without running it and print what it would do.

Every section is parsed by the same code `sf run` uses (unknown sections or options fail with the
name of the culprit), then the plan is counted from the config alone: questions, rollouts,
reflections, traces, training steps per arm, tokens to generate, and a rough device-hours figure
from stated throughput assumptions. Counts of traces are upper bounds (a question without a correct
sample yields no trace); token counts are given both as the `max_tokens` ceiling and at an assumed
mean fill of that ceiling.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_PLAN_SECTION = "plan"


@dataclass
class Throughput:
    """Rough speeds for a reference model size, scaled inversely with the model's parameter count.

    `h100` (one H100 80GB, bf16, model of 1.5B parameters): vLLM batched sampling ~20k output tokens/s
    (decode of a small model is memory-bound; large batches of short prompts); training ~40k tokens/s
    (6 x params FLOPs per token at ~40% of the 989 dense bf16 TFLOP/s). Neither was measured here (no
    GPU). `cpu` (this repo's 2-core machine, SmolLM2-135M): ~60 generated and ~80 trained tokens/s,
    fitted to the README's `make demo` run (generate 150 s, reflect 233 s, 40 SFT steps 547 s).
    """

    profile: str = ""  # h100 | cpu; "" = cpu for the embedded model, else h100
    gen_tokens_per_s: float | None = None  # override the profile's sampling speed (reference size)
    train_tokens_per_s: float | None = None  # override the profile's training speed (reference size)
    fill: float = 0.5  # mean completion length as a share of max_tokens
    params_b: float | None = None  # model size in billions; default: read from the model name

    PROFILES = {"h100": (20_000.0, 40_000.0, 1.5, "GPU-hours on 1x H100"), "cpu": (60.0, 80.0, 0.135, "CPU-hours")}

    def speeds(self, params_b: float) -> tuple[float, float]:
        if self.profile not in self.PROFILES:
            raise ValueError(f"[plan] profile {self.profile!r} unknown; use one of {', '.join(self.PROFILES)}")
        gen, train, ref, _ = self.PROFILES[self.profile]
        scale = ref / params_b
        return (self.gen_tokens_per_s or gen) * scale, (self.train_tokens_per_s or train) * scale

    @property
    def unit(self) -> str:
        return self.PROFILES[self.profile][3]


def params_from_name(model: str | None) -> float | None:
    """1.5 for 'Qwen/Qwen2.5-1.5B-Instruct', 0.135 for the embedded SmolLM2-135M; None if not in the name."""
    from sfdata.models import is_embedded

    if is_embedded(model):
        return 0.135
    m = re.search(r"(\d+(?:\.\d+)?)\s*([BM])\b", str(model).replace("-", " ").replace("_", " "), re.IGNORECASE)
    if not m:
        return None
    return float(m.group(1)) / (1000 if m.group(2).upper() == "M" else 1)


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Every stage section parsed into its config object (raises a clear error on the first problem)."""
    from sfdata.app.pipeline import section_for
    from sfdata.app.stages import STAGES

    known = {"run", _PLAN_SECTION} | set(STAGES)
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown section(s) [{'], ['.join(unknown)}]; known: {', '.join(sorted(known))}")
    out: dict[str, Any] = {}
    for stage in STAGES.values():
        if stage.name in config:
            try:
                out[stage.name] = stage.make_config(section_for(config, stage))
            except (ValueError, TypeError, KeyError) as e:
                raise ValueError(f"[{stage.name}]: {e}") from None
    if "experiment" in out:
        _check_experiment(config, out["experiment"])
    if "experiment" in out or "eval" in out:
        _check_held_out(out)
    return out


def _check_experiment(config: dict[str, Any], exp) -> None:
    """Arms that train on the run's own traces need the stages that make them; every arm is asked one way."""
    from sfdata.app.experiment import RUN_STAR, RUN_TRACES

    uses = {s.data for a in exp.arm_configs() for s in a.steps if s.kind == "sft"}
    if uses & {RUN_TRACES, RUN_STAR} and "build" not in config:
        raise ValueError("[experiment]: an arm trains on the run's traces, but the config has no [build] section")
    if RUN_STAR in uses and RUN_STAR not in tuple(config["build"].get("formats", ())):
        raise ValueError('[experiment]: the star arm needs "star" in [build].formats')
    exp.check_prompts()  # SFT user turns, RL prompts and eval prompts: one setup


def _check_held_out(cfgs: dict[str, Any]) -> None:
    """Draw the RL and eval questions as the run will (the same generators, seeds and exclusions), so a config
    asking for more held-out questions than a task level has left fails here, not an hour into the run."""
    from sfdata.app.experiment import step_config
    from sfdata.tasks import Question, get_task, make_questions
    from sftrain.eval import draw_eval_sets
    from sftrain.heldout import draw_held_out, keys_of, merge

    exp, qcfg = cfgs.get("experiment"), cfgs.get("questions")
    data = []
    if qcfg is not None:
        qdf = make_questions(qcfg.task, qcfg.n, qcfg.seed, level=qcfg.level, split=qcfg.split, **(qcfg.options or {}))
        data = [Question.from_row(r) for r in qdf.iter_rows(named=True)]
    trained = keys_of(data)
    rl_steps = [s for a in exp.arm_configs() for s in a.steps if s.kind == "rl"] if exp else []
    if rl_steps:
        rl = step_config(exp, rl_steps[0], None, "", Path("."))
        if not rl.questions_from:
            try:
                drawn = draw_held_out(get_task(rl.task), _rl_questions(rl), rl.seed, rl.level, trained, split="train")
            except ValueError as e:
                raise ValueError(f"[experiment.rl]: RL questions held out from the data questions: {e}") from None
            trained = merge(trained, keys_of(drawn.questions))
    gen = cfgs.get("generate")
    evals = [("[experiment.eval]", exp.eval_config())] if exp else []
    evals += [("[eval]", cfgs["eval"])] if "eval" in cfgs else []
    for where, ev in evals:
        fewshot = int(ev.fewshot if ev.fewshot is not None else getattr(gen, "fewshot", 0) or 0)
        try:
            draw_eval_sets(ev, trained, fewshot)
        except ValueError as e:
            raise ValueError(f"{where}: eval questions held out from the training questions: {e}") from None


def _rl_questions(rl_cfg) -> int:
    from sftrain.presets import RL_QUESTIONS

    return rl_cfg.n_questions if rl_cfg.n_questions is not None else RL_QUESTIONS.get(rl_cfg.preset, 64)


def _rl_plan(rl_cfg, questions: int) -> dict[str, Any]:
    args = rl_cfg.training_args()
    per_step = int(args.get("per_device_train_batch_size", 8)) * int(args.get("gradient_accumulation_steps", 1))
    gens = int(args.get("num_generations", 8))
    n_q = questions if rl_cfg.questions_from else _rl_questions(rl_cfg)
    epochs = float(args.get("num_train_epochs", 1.0))
    max_steps = int(args.get("max_steps", -1))
    steps = max_steps if max_steps > 0 else math.ceil(n_q * gens * epochs / per_step)
    completions = steps * per_step  # TRL steps are optimizer updates; each consumes `per_step` completions once
    max_len = int(args.get("max_completion_length", 256))
    return {"steps": steps, "questions": n_q, "completions": completions, "gen_max": completions * max_len}


def _sft_plan(sft_cfg, examples: int | None, trace_tokens: float) -> dict[str, Any]:
    args = sft_cfg.training_args()
    per_step = int(args.get("per_device_train_batch_size", 8)) * int(args.get("gradient_accumulation_steps", 1))
    max_steps = int(args.get("max_steps", -1))
    if examples is None:  # a published set: its size is known only when loaded
        return {"steps": max_steps if max_steps > 0 else None, "examples": None, "train_tokens": 0.0}
    steps = max_steps if max_steps > 0 else math.ceil(examples * float(args.get("num_train_epochs", 1.0)) / per_step)
    length = min(trace_tokens, float(args.get("max_length", 1024)))
    return {"steps": steps, "examples": examples, "train_tokens": steps * per_step * length}


def _eval_plan(eval_cfg, models: int) -> dict[str, Any]:
    from sftrain.eval import parse_task_specs

    levels = len(parse_task_specs(eval_cfg.tasks))
    items = levels * eval_cfg.n_questions * eval_cfg.samples
    rounds = 2 if eval_cfg.budget_forcing > 0 else 1  # forced rounds add up to one more max_tokens budget
    return {"answers": items * models, "gen_max": items * models * eval_cfg.max_tokens * rounds, "task_levels": levels}


def data_plan(cfgs: dict[str, Any]) -> dict[str, Any]:
    """Counts for the data stages (questions -> rollouts -> reflections -> traces)."""
    q = cfgs.get("questions")
    n_q = q.n if q is not None else 0
    d: dict[str, Any] = {"questions": n_q, "rollouts": 0, "reflections": 0, "traces": 0, "star_traces": 0}
    d["gen_max"], d["trace_tokens"] = 0, 0.0
    g, r, b = cfgs.get("generate"), cfgs.get("reflect"), cfgs.get("build")
    if g is not None:
        d["rollouts"] = n_q * len(g.variants) * g.n
        d["gen_max"] += d["rollouts"] * g.max_tokens
    if r is not None:
        d["reflections"] = d["rollouts"] * r.k
        d["gen_max"] += d["reflections"] * r.max_tokens
    d["per_format"], d["built_formats"] = {}, ()
    if b is not None:
        from sfdata.factory.build import max_traces_per_question

        samples = len(g.variants) * g.n if g is not None else b.n
        per = {f: n_q * b.repeats * max_traces_per_question(f, b, samples) for f in b.formats}
        d["per_format"], d["built_formats"] = per, tuple(b.formats)
        d["star_traces"] = per.get("star", 0)
        d["traces"] = sum(per.values())
        mean_n = (sum(b.n_range) / 2) if b.n_range else b.n
        sample = (g.max_tokens if g else 256) + (r.max_tokens if r else 0)
        d["trace_tokens"] = mean_n * sample  # a ceiling per trace; scaled by fill below
    return d


def sft_examples(d: dict[str, Any], names: tuple[str, ...] | None) -> int:
    """Upper bound of the traces an SFT step reads from the run (the same selection `sf sft` makes)."""
    from sfdata.factory.mix import SFT_DEFAULT_FORMATS, selection

    sets, formats = selection(names)
    picked = [
        f
        for f in d["built_formats"]
        if (f in formats if formats else f in SFT_DEFAULT_FORMATS or f in sets) and (f in sets or "main" in sets)
    ]
    return sum(d["per_format"][f] for f in picked)


def _arm_plans(exp, d: dict[str, Any]) -> list[dict[str, Any]]:
    from sfdata.app.experiment import RUN_STAR, RUN_TRACES, step_config

    eval_cfg = exp.eval_config()
    arms = []
    for arm in exp.arm_configs():
        steps = []
        for step in arm.steps:
            cfg = step_config(exp, step, exp.model, "-", Path("RUN"))
            if step.kind == "rl":
                steps.append({"name": step.name, "kind": "rl", **_rl_plan(cfg, d["questions"])})
                continue
            examples = sft_examples(d, cfg.formats) if step.data in (RUN_TRACES, RUN_STAR) else None
            plan = _sft_plan(cfg, examples, d["trace_tokens"])
            steps.append({"name": step.name, "kind": "sft", "data": step.data, **plan})
        arms.append({"arm": arm.name, "steps": steps, "eval": _eval_plan(eval_cfg, max(1, len(steps)))})
    return arms


def make_plan(config: dict[str, Any]) -> dict[str, Any]:
    """Validate `config` and count what it would do, with a rough device-hours estimate."""
    from sfdata.models import is_embedded
    from sfdata.stagecfg import from_dict

    cfgs = validate(config)
    tp = from_dict(Throughput, config.get(_PLAN_SECTION))
    model = config.get("run", {}).get("model")
    tp.profile = tp.profile or ("cpu" if is_embedded(model) else "h100")
    params = tp.params_b or params_from_name(model) or 1.5
    gen_tps, train_tps = tp.speeds(params)
    d = data_plan(cfgs)
    gen, train = d["gen_max"] * tp.fill, 0.0
    arms = _arm_plans(cfgs["experiment"], d) if "experiment" in cfgs else []
    if "sft" in cfgs:
        from sftrain.sft import SFTRunConfig

        stage = cfgs["sft"]
        sft = _sft_plan(SFTRunConfig(preset=stage.preset, overrides=stage.overrides), d["traces"], d["trace_tokens"])
        arms.insert(0, {"arm": "[sft]", "steps": [{"name": "sft", "kind": "sft", "data": "traces", **sft}]})
    if "eval" in cfgs:
        e = cfgs["eval"]
        n_models = len(e.models) or (2 if "sft" in cfgs else 1)
        arms.append({"arm": "[eval]", "steps": [], "eval": _eval_plan(e, n_models)})
    for arm in arms:
        for s in arm["steps"]:
            if s["kind"] == "rl":
                gen += s["gen_max"] * tp.fill
                train += s["gen_max"] * tp.fill
            else:
                train += s["train_tokens"] * tp.fill
        gen += arm.get("eval", {}).get("gen_max", 0) * tp.fill
    hours = (gen / gen_tps + train / train_tps) / 3600
    return {
        "model": model or "embedded SmolLM2-135M-Instruct",
        "params_b": params,
        "data": d,
        "arms": arms,
        "prompt": cfgs["experiment"].prompt if "experiment" in cfgs else None,
        "tokens_to_generate": gen,
        "tokens_to_generate_max": gen / tp.fill if tp.fill else gen,
        "tokens_to_train": train,
        "hours": hours,
        "unit": tp.unit,
        "assumptions": (
            f"{tp.profile}: sampling {gen_tps:,.0f} tok/s, training {train_tps:,.0f} tok/s for a {params:g}B model; "
            f"mean completion = {tp.fill:.0%} of max_tokens"
        ),
    }


def _n(x: float | int | None) -> str:
    if x is None:
        return "?"
    x = float(x)
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= size:
            return f"{x / size:.3g}{unit}"
    return f"{x:.0f}"


def _step_line(s: dict[str, Any]) -> str:
    if s["kind"] == "rl":
        return (
            f"{s['name']}: GRPO {s['steps']} steps on {s['questions']} questions "
            f"({_n(s['completions'])} completions, up to {_n(s['gen_max'])} tokens)"
        )
    data = {"traces": "the run's SkillFactory traces", "star": "the run's STaR traces"}.get(s["data"], s["data"])
    return f"{s['name']}: SFT {_n(s['steps'])} steps on {_n(s['examples'])} examples ({data})"


def format_plan(p: dict[str, Any]) -> list[str]:
    """The plan as printed by `sf run --dry-run`."""
    d = p["data"]
    lines = [f"model: {p['model']} (~{p['params_b']:g}B parameters)", "data:"]
    lines.append(f"  questions    {d['questions']:,}")
    lines.append(f"  rollouts     {d['rollouts']:,}")
    lines.append(f"  reflections  {d['reflections']:,}")
    lines.append(
        f"  traces       up to {d['traces']:,}" + (f" ({d['star_traces']:,} STaR)" if d["star_traces"] else "")
    )
    if p["arms"]:
        lines.append("training and eval" + (f" (every arm asked {p['prompt']!r})" if p.get("prompt") else "") + ":")
    for arm in p["arms"]:
        chain = [_step_line(s) for s in arm["steps"]]
        if "eval" in arm:
            e = arm["eval"]
            chain.append(
                f"eval {e['answers']:,} answers ({e['task_levels']} task:levels, up to {_n(e['gen_max'])} tokens)"
            )
        lines.append(f"  {arm['arm']}:")
        lines += [f"    {i}. {c}" for i, c in enumerate(chain or ["(nothing)"], 1)]
    lines.append(
        f"tokens to generate: ~{_n(p['tokens_to_generate'])} (ceiling {_n(p['tokens_to_generate_max'])}); "
        f"tokens to train on: ~{_n(p['tokens_to_train'])}"
    )
    lines.append(f"estimate: ~{p['hours']:.3g} {p['unit']} ({p['assumptions']}); a rough figure, not a measurement")
    return lines
