"""`sf sft`, `sf rl`, `sf eval` subcommands."""
