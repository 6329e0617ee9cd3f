"""ESPnet <-> Hugging Face CTC token conventions, in one place.

=================  ======================  =====================================
                   ESPnet                  Hugging Face (``Wav2Vec2CTCTokenizer``)
=================  ======================  =====================================
CTC blank          ``<blank>`` (index 0)   the pad token ``<pad>`` (``config.pad_token_id``)
word boundary      ``<space>``             the word delimiter ``|``
unknown            ``<unk>``               ``<unk>``
ignored label      -1 (``ignore_id``)      -100
letter case        usually lower case      upper case in the English heads
=================  ======================  =====================================

Used by CTC initialisation from a pretrained head (:mod:`espnet_brain.asr.ctc_init`), the random model writer
(:mod:`espnet_brain.hf.writer`) and the export of an ESPnet model as an HF ``*ForCTC`` (``bin/export_hf.py``).
"""

from typing import Dict, List, Sequence, Tuple

import torch

ESPNET_BLANK = "<blank>"
ESPNET_SPACE = "<space>"
ESPNET_UNK = "<unk>"
HF_PAD = "<pad>"
HF_WORD_DELIMITER = "|"
ESPNET_IGNORE_ID = -1
HF_IGNORE_ID = -100

# ESPnet token -> HF token, for the tokens the two spell differently.
TO_HF = {ESPNET_BLANK: HF_PAD, ESPNET_SPACE: HF_WORD_DELIMITER}


def read_token_list(path: str) -> List[str]:
    """Read an ESPnet CTC token list (one token a line, ``<blank>`` first).

    Args:
        path: The ``tokens.txt`` file.

    Returns:
        The tokens; token i is row i of the CTC output layer.
    """
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f if line.strip()]
    if not tokens or tokens[0] != ESPNET_BLANK:
        raise ValueError(f"{path}: an ESPnet CTC token list starts with {ESPNET_BLANK}, got {tokens[:1]}")
    return tokens


def blank_id(token_list: Sequence[str]) -> int:
    """Index of the CTC blank in an ESPnet token list (HF's ``pad_token_id`` for a head with these rows)."""
    if ESPNET_BLANK not in token_list:
        raise ValueError(f"token_list: a CTC token list needs {ESPNET_BLANK}, got {list(token_list)[:5]}...")
    return list(token_list).index(ESPNET_BLANK)


def espnet_to_hf_vocab(token_list: Sequence[str]) -> Dict[str, int]:
    """ESPnet tokens -> a ``Wav2Vec2CTCTokenizer`` vocabulary with the same indices.

    ``<blank>`` becomes ``<pad>`` and ``<space>`` becomes ``|``; other tokens keep their spelling.

    Args:
        token_list: ESPnet tokens (V,).

    Returns:
        HF token -> index (V entries).
    """
    return {TO_HF.get(t, t): i for i, t in enumerate(token_list)}


def map_tokens(
    token_list: Sequence[str], hf_vocab: Dict[str, int], pad: str, word_delimiter: str, unk: str
) -> Tuple[Dict[int, int], Dict[str, str], List[str]]:
    """Map ESPnet tokens to rows of an HF CTC head, by token, never by position.

    Args:
        token_list: ESPnet tokens (row i of ``ctc_lo`` is token_list[i]).
        hf_vocab: HF token -> row of ``lm_head``.
        pad: HF pad token (the CTC blank).
        word_delimiter: HF word delimiter (``|``).
        unk: HF unknown token.

    Returns:
        Tuple of {ESPnet index: HF row}, {ESPnet token: HF token} and the unmapped ESPnet tokens.
    """
    special = {ESPNET_BLANK: pad, ESPNET_SPACE: word_delimiter, ESPNET_UNK: unk}
    # Case-insensitive fallback; an exact match always wins, then the first HF token of that spelling.
    folded: Dict[str, str] = {}
    for tok in sorted(hf_vocab, key=hf_vocab.get):
        folded.setdefault(tok.lower(), tok)
    rows: Dict[int, int] = {}
    names: Dict[str, str] = {}
    unmapped: List[str] = []
    for i, tok in enumerate(token_list):
        if tok in special:
            hf_tok = special[tok] if special[tok] in hf_vocab else None
        elif tok in hf_vocab:
            hf_tok = tok
        else:
            hf_tok = folded.get(tok.lower())
        if hf_tok is None:
            unmapped.append(tok)
            continue
        rows[i] = hf_vocab[hf_tok]
        names[tok] = hf_tok
    return rows, names, unmapped


def espnet_to_hf_labels(ys_pad: torch.Tensor) -> torch.Tensor:
    """Padded ESPnet targets (B, U), padded with -1, as HF CTC labels (B, U), padded with -100 (a new tensor)."""
    return ys_pad.masked_fill(ys_pad == ESPNET_IGNORE_ID, HF_IGNORE_ID)


def hf_to_espnet_labels(labels: torch.Tensor) -> torch.Tensor:
    """HF CTC labels (B, U), padded with -100, as ESPnet targets (B, U), padded with -1 (a new tensor)."""
    return labels.masked_fill(labels == HF_IGNORE_ID, ESPNET_IGNORE_ID)
