"""The synthetic-run helper lives in the package (`sfdata.synth`), so benches never import tests."""

from sfdata.synth import make_run

__all__ = ["make_run"]
