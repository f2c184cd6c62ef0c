"""Text: encoders (texts -> unit vectors), the dataset's embeddings, similarity, model loading.

The names most callers need are re-exported here; each lives in one small module.
"""

from pointdiff.text.embeddings import EncoderInfo, check_encoder, load_dataset_embeddings
from pointdiff.text.encoders import DEFAULT_ENCODER, TextEncoder, load_encoder

__all__ = ["DEFAULT_ENCODER", "EncoderInfo", "TextEncoder", "check_encoder", "load_dataset_embeddings", "load_encoder"]
