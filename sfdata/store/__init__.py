"""Parquet store: canonical schemas, atomic writes, run directories, DuckDB views."""

from sfdata.store.ids import seed_from_id, stable_id
from sfdata.store.parquet import CorruptFileError, SchemaError, conform, write_parquet_atomic
from sfdata.store.run import RunDir
from sfdata.store.schemas import TABLES, schema_of

__all__ = [
    "CorruptFileError",
    "RunDir",
    "SchemaError",
    "TABLES",
    "conform",
    "schema_of",
    "seed_from_id",
    "stable_id",
    "write_parquet_atomic",
]
