"""Hugging Face Hub and interchange, one job per module: `readers` (local files, folders, Hub ids),
`raw` (published raw layouts: import, export), `export` (SFT/TRL/sharegpt/verl), `card` (dataset
card), `push` (build, check, upload a dataset folder), `pull` (published sets into a run)."""

from sfdata.hub.export import EXPORT_FORMATS, curated_traces, export
from sfdata.hub.pull import pull
from sfdata.hub.push import HubError, build_folder, check_loads, push_folder
from sfdata.hub.raw import RAW_COLUMNS, RawSchemaError, import_raw

__all__ = [
    "EXPORT_FORMATS",
    "HubError",
    "RAW_COLUMNS",
    "RawSchemaError",
    "build_folder",
    "check_loads",
    "curated_traces",
    "export",
    "import_raw",
    "pull",
    "push_folder",
]
