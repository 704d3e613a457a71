"""The application layer: the `sf` commands, the stage registry, `sf run`'s pipeline, the dry-run plan and the
experiment (arms of SFT/GRPO steps) with its report.

It alone may import all three libraries beneath it (`sfdata` data library, `sftrain`, `tui`); nothing beneath
imports it (enforced by the import-linter contracts in pyproject.toml).
"""
