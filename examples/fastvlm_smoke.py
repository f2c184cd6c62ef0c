"""Does FastVLM's native port run in this environment? A tiny random model of its classes, offline.

    pip install -e ".[fastvlm]"          # torch 2.14.1 + torchvision 0.29.1 + timm 1.0.31
    python examples/fastvlm_smoke.py     # builds FastVlmForConditionalGeneration (timm's fastvit_mci0 tower), generates 3 tokens

Checked on the project's dev box (CPU, Python 3.11, transformers 5.24.0): it prints the versions, the
parameter count and the generated shape. The real FastVLM-0.5B then loads through `pointdiff caption`.
"""
import torch, torchvision, timm, transformers
from torchvision.ops import nms  # the op PyPI's torchvision lacks beside torch 2.13.0
from transformers import FastVlmConfig, FastVlmForConditionalGeneration

print("torch", torch.__version__, "torchvision", torchvision.__version__, "timm", timm.__version__, "transformers", transformers.__version__)
nms(torch.tensor([[0., 0, 1, 1], [0, 0, 1, 1]]), torch.tensor([0.9, 0.8]), 0.5)
base = FastVlmConfig()
vision = base.vision_config.to_dict()
vision["architecture"] = "fastvit_mci0"
vision["hidden_size"] = 1024  # mci0's feature width (mci3: 3072)
text = dict(model_type="qwen2", hidden_size=64, intermediate_size=128, num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1, vocab_size=base.image_token_index + 8)
cfg = FastVlmConfig(vision_config=vision, text_config=text, image_token_index=base.image_token_index)
model = FastVlmForConditionalGeneration(cfg).eval()
print("params", sum(p.numel() for p in model.parameters()))
size = 256
pixels = torch.randn(1, 3, size, size)
with torch.no_grad():
    feats = model.get_image_features(pixel_values=pixels)
feats = feats.pooler_output if hasattr(feats, "pooler_output") else feats
n = (feats[0] if isinstance(feats, (list, tuple)) else feats).reshape(-1, 64).shape[0]
ids = torch.tensor([[1] + [base.image_token_index] * n + [2, 3]])
with torch.no_grad():
    out = model.generate(input_ids=ids, pixel_values=pixels, max_new_tokens=3, do_sample=False)
print("generated", out.shape, "image tokens", n)
