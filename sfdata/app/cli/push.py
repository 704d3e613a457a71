"""Build a Hub dataset folder from a run (Parquet per config + README card with YAML metadata,
generation config, format mix and skill statistics), check it loads with `datasets`, then upload
it in one commit. Token from --token-file PATH (`-`: stdin), HF_TOKEN or `hf auth login`, never from the
command line (`--token` is visible to every user in `ps`: still accepted, with a warning). A failed upload keeps
the folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path)
    p.add_argument("repo_id", help="e.g. your-name/SFT_DATA-countdown-SmolLM2-SkillFactory")
    from sfdata.hub.push import CONFIG_FORMATS, DEFAULT_CONFIGS

    p.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS), choices=list(CONFIG_FORMATS))
    p.add_argument(
        "--folder", type=Path, default=None, help="new dataset folder (default RUN/hub/<name>); never a foreign folder"
    )
    p.add_argument("--private", action="store_true")
    p.add_argument("--all-traces", action="store_true", help="ignore keep/drop labels")
    p.add_argument("--dry-run", action="store_true", help="build and check the folder, do not upload")
    p.add_argument(
        "--token-file", type=Path, default=None, help="read the Hub token from this file ('-': stdin); else HF_TOKEN"
    )
    p.add_argument("--token", default=None, help=argparse.SUPPRESS)  # deprecated: visible in `ps`
    p.add_argument("--license", default="apache-2.0")


def read_token(args: argparse.Namespace) -> str | None:
    """The token from --token-file (or stdin), the deprecated --token (warned), else None (HF_TOKEN / login)."""
    import sys

    from sfdata.app.cli._common import err
    from sfdata.redact import remember

    token = None
    if args.token_file is not None:
        text = sys.stdin.read() if str(args.token_file) == "-" else args.token_file.read_text(encoding="utf-8")
        token = text.strip() or None
        if token is None:
            raise ValueError(f"--token-file {args.token_file}: empty")
    elif args.token:
        err.print(
            "sf push: --token is deprecated (any user can read it in `ps`); use --token-file PATH, "
            "--token-file - (stdin) or HF_TOKEN",
            markup=False,
            highlight=False,
        )
        token = args.token
    if token:
        remember(token)  # masked in every message from here on
    return token


def run(args: argparse.Namespace) -> int:
    from sfdata.app.cli._common import console, err, existing_run
    from sfdata.hub.push import HubError, build_folder, check_loads, check_repo_id, push_folder

    check_repo_id(args.repo_id)
    token = read_token(args)
    run_dir = existing_run(args.run)
    folder = args.folder or run_dir.path / "hub" / args.repo_id.split("/")[-1]
    counts = build_folder(
        run_dir.path, folder, args.repo_id, tuple(args.configs), kept_only=not args.all_traces, license=args.license
    )
    loaded = check_loads(folder, tuple(args.configs))
    for cfg, n in loaded.items():
        if n != counts[cfg]:
            raise RuntimeError(f"config {cfg}: wrote {counts[cfg]} rows but datasets loaded {n}")
        console.print(f"{cfg:<10} {n:>7} rows  loads with datasets.load_dataset", markup=False)
    console.print(f"folder: {folder}", markup=False)
    if args.dry_run:
        return 0
    try:
        url = push_folder(folder, args.repo_id, token=token, private=args.private)
    except HubError as e:
        err.print(f"sf push: {e}", markup=False, highlight=False)
        return 2
    console.print(f"pushed: {url}", markup=False)
    return 0
