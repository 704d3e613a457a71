"""The `sf` console script. Each subcommand lives in its own module with
`add_arguments(parser)` and `run(args) -> int`; modules import lazily so `sf --help` is instant."""
