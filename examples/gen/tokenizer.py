"""Trains the examples' tokenizer: /usr/bin/python3 examples/gen/tokenizer.py (export_all.py runs it too)

A byte-pair-encoding tokenizer (Sennrich et al.; the Hugging Face `tokenizers` BPE model)
trained on examples/tokenizer/corpus.txt (a short story written for this repository), written
as examples/tokenizer/tokenizer.json in the Hugging Face tokenizers format, the file that
`compiler/generate/tokenizer.ts` reads with @huggingface/tokenizers:

  normalizer     Lowercase (the alphabet stays small)
  pre-tokenizer  Metaspace: each space becomes '▁', prepended to the word that follows;
                 one is also prepended to the text (prepend_scheme "always")
  model          BPE: 2 special tokens, the corpus' characters, then merges up to VOCAB_SIZE
  decoder        Metaspace (the inverse: '▁' back to spaces, the first one dropped)

Special tokens: id 0 `<|endoftext|>` (end of sequence), id 1 `<unk>` (a character outside the
corpus' alphabet). VOCAB_SIZE equals the example decoders' vocabulary (100), so every id the
tokenizer produces is an id the models take, and every id they produce decodes.

Training is the textbook algorithm: repeatedly merge the most frequent adjacent pair, counted
over the corpus' words weighted by frequency; ties go to the lexicographically smallest pair,
so the result is deterministic.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from typing import Dict, List, Tuple

EXAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(EXAMPLES)
CORPUS = os.path.join(EXAMPLES, "tokenizer", "corpus.txt")
OUTPUT = os.path.join(EXAMPLES, "tokenizer", "tokenizer.json")
VOCAB_SIZE = 100
SPACE = "\u2581"  # '▁'
SPECIAL = ["<|endoftext|>", "<unk>"]

Word = Tuple[str, ...]


def words(text: str) -> Counter:
    """Metaspace pre-tokenization of the lowercased corpus: '▁word' pieces with their counts."""
    return Counter(SPACE + w for w in text.lower().split())


def most_frequent_pair(vocab: Dict[Word, int]) -> Tuple[str, str] | None:
    pairs: Counter = Counter()
    for word, count in vocab.items():
        for a, b in zip(word, word[1:]):
            pairs[(a, b)] += count
    if not pairs:
        return None
    return min(pairs, key=lambda p: (-pairs[p], p))


def apply_merge(word: Word, pair: Tuple[str, str]) -> Word:
    out: List[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


def train(text: str, vocab_size: int) -> Tuple[Dict[str, int], List[List[str]]]:
    counts = words(text)
    alphabet = sorted({c for w in counts for c in w})
    tokens = SPECIAL + alphabet
    vocab: Dict[Word, int] = {tuple(w): n for w, n in counts.items()}
    merges: List[List[str]] = []
    while len(tokens) < vocab_size:
        pair = most_frequent_pair(vocab)
        if pair is None:
            break
        merges.append([pair[0], pair[1]])
        tokens.append(pair[0] + pair[1])
        vocab = {apply_merge(w, pair): n for w, n in vocab.items()}
    return {t: i for i, t in enumerate(tokens)}, merges


def special(token_id: int, content: str) -> Dict[str, object]:
    return {
        "id": token_id,
        "content": content,
        "single_word": False,
        "lstrip": False,
        "rstrip": False,
        "normalized": False,
        "special": True,
    }


def tokenizer_json(vocab: Dict[str, int], merges: List[List[str]]) -> Dict[str, object]:
    metaspace = {"type": "Metaspace", "replacement": SPACE, "prepend_scheme": "always", "split": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(i, t) for i, t in enumerate(SPECIAL)],
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": metaspace,
        "post_processor": None,
        "decoder": metaspace,
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges,
        },
    }


def format_json(path: str) -> None:
    """The repository's formatter has the last word on committed JSON (`npm test` runs prettier --check)."""
    try:
        subprocess.run(["npx", "--no-install", "prettier", "--write", path], cwd=REPO, check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"warning: prettier failed ({e}); run `npx prettier --write {path}` before committing")


def main(format_output: bool = False) -> str:
    """Writes OUTPUT and returns its path (export_all.py formats it with the other JSON files)."""
    with open(CORPUS, encoding="utf-8") as f:
        text = f.read()
    vocab, merges = train(text, VOCAB_SIZE)
    if len(vocab) != VOCAB_SIZE:
        raise SystemExit(f"the corpus yields only {len(vocab)} tokens, want {VOCAB_SIZE}")
    with open(OUTPUT, "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False, indent=2)
        f.write("\n")
    if format_output:
        format_json(OUTPUT)
    print(f"  tokenizer/tokenizer.json: {len(vocab)} tokens ({len(merges)} merges)")
    return OUTPUT


if __name__ == "__main__":
    main(format_output=True)
