"""examples/reference_pipeline.sh, run on tiny random models of the real classes.

The real VLM / LLM / CLIP are not available offline; their tiny stand-ins go through the
same loading code (a Llava VLM, a Qwen2 chat LM, a CLIPModel), so this checks the script's
commands and flags end to end: frames -> every Nth -> caption -> summarize -> embed -> train
(the seed preset) -> generate.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pointdiff.data.faces import iter_faces

ROOT = Path(__file__).resolve().parents[2]


def test_reference_pipeline_script_on_tiny_models(tmp_path: Path, tiny_vlm_dir: Path, tiny_lm_dir: Path, tiny_clip_dir: Path) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for k, face in enumerate(iter_faces(12, seed=0, video=True)):
        face.image.save(frames / f"frame{k}.png")  # natural order: frame2 < frame10
    ws = tmp_path / "ws"
    env = {
        **os.environ, "PYTHON_BIN": str(Path(sys.executable).parent), "HF_HUB_OFFLINE": "1",
        "VLM": str(tiny_vlm_dir), "LLM": str(tiny_lm_dir), "ENCODER": str(tiny_clip_dir),
        "EVERY": "3", "STEPS": "5", "DEVICE": "cpu", "MAX_NEW_TOKENS": "8",
    }
    run = subprocess.run(["bash", str(ROOT / "examples" / "reference_pipeline.sh"), str(frames), str(ws)], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert (ws / "dataset" / "captions.jsonl").read_text().count("\n") == 4  # 12 frames, every 3rd
    assert (ws / "dataset" / "summaries.jsonl").exists() and (ws / "dataset" / "embeddings.safetensors").exists()
    assert (ws / "outputs" / "reference.png").exists()
