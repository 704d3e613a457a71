import os

# Tests are offline by design: nothing may reach the Hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# The same CPU thread setup as every torch-running `sf` command (sfdata.cpu_threads), made before any test
# imports torch: passive OpenMP waits when the CPUs are already busy, a short spin when quiet, threads from the
# usable CPUs, unless set in the environment, so the suite's speed does not hang on what else the machine runs.
# Subprocesses inherit it.
from sfdata.cpu_threads import setup_cpu_threads  # noqa: E402

setup_cpu_threads()
