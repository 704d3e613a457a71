"""Hugging Face Hub and interchange: import the published raw schema, export SFT/TRL/sharegpt/verl,
dataset cards, push and pull."""

from sfdata.hub.export import EXPORT_FORMATS, curated_traces, export
from sfdata.hub.push import HubError, build_folder, check_loads, pull, push_folder
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
