"""The generation flags `caption` and `summarize` share, and the GenerationOptions values they must become."""

from __future__ import annotations

from typing import Any


def generation_flags(model: str) -> tuple[list[str], dict[str, Any]]:
    """(command-line flags, the config fields they must set) for a run of ``model``."""
    flags = ["--model", model, "--max-new-tokens", "9", "--batch-size", "3", "--device", "cpu", "--dtype", "bfloat16",
             "--sample", "--seed", "5", "--revision", "v2", "--trust-remote-code"]  # fmt: skip
    values = {"model": model, "max_new_tokens": 9, "batch_size": 3, "device": "cpu", "dtype": "bfloat16",
              "do_sample": True, "seed": 5, "revision": "v2", "trust_remote_code": True}  # fmt: skip
    return flags, values
