"""`python -m sfdata.app ...` is `sf ...` (for `accelerate launch -m sfdata.app sft ...` and vLLM's spawn)."""

from sfdata.app.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
