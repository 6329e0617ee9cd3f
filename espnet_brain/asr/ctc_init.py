"""Initialise ESPnet's CTC output layer from the character head of a Hugging Face ``Wav2Vec2ForCTC``.

ESPnet and HF name the same characters differently (``<blank>`` vs ``<pad>``, ``<space>`` vs ``|``, lower vs upper
case; see :mod:`espnet_brain.hf.tokens`). Rows are copied by token, never by position.
"""

import logging
from typing import List

import torch
from espnet2.asr.ctc import CTC

from espnet_brain.hf.loading import load_ctc_tokenizer, load_model
from espnet_brain.hf.tokens import map_tokens


def init_ctc_from_hf(ctc: CTC, token_list: List[str], model_name_or_path: str) -> dict:
    """Copy the rows of a pretrained HF CTC character head into ESPnet's ``ctc.ctc_lo``.

    Args:
        ctc: ESPnet CTC module whose ``ctc_lo`` is Linear(H, len(token_list)); H must equal the HF head's input
            size (the transformer width, e.g. 768 for wav2vec2-base).
        token_list: ESPnet token list (``<blank>`` first, as ESPnet's char token lists are).
        model_name_or_path: Hub id or local directory of a ``Wav2Vec2ForCTC`` checkpoint with its tokenizer
            (``vocab.json``), e.g. ``facebook/wav2vec2-base-960h``.

    Returns:
        dict: ``mapped`` ({ESPnet token: HF token}), ``unmapped`` (ESPnet tokens left with their random init),
        ``n_mapped`` and ``n_tokens``.
    """
    what = "init_ctc_from_hf model_name_or_path"
    if ctc.ctc_lo.out_features != len(token_list):
        raise ValueError(
            f"init_ctc_from_hf: ctc.ctc_lo has {ctc.ctc_lo.out_features} outputs but token_list has "
            f"{len(token_list)} tokens"
        )
    hf_model = load_model(model_name_or_path, what, head="ctc")
    head = getattr(hf_model, "lm_head", None)
    if not isinstance(head, torch.nn.Linear):
        raise ValueError(f"{what}: {model_name_or_path!r} has no linear CTC head (lm_head)")
    if ctc.ctc_lo.in_features != head.in_features:
        raise ValueError(
            f"init_ctc_from_hf: ESPnet CTC input size (encoder output) is {ctc.ctc_lo.in_features} but the "
            f"CTC head of {model_name_or_path!r} expects {head.in_features}; use the same transformer width"
        )
    tokenizer = load_ctc_tokenizer(model_name_or_path, what)
    vocab = dict(tokenizer.get_vocab())
    if len(vocab) > head.out_features or max(vocab.values()) >= head.out_features:
        raise ValueError(
            f"{what}: the tokenizer of {model_name_or_path!r} has ids up to {max(vocab.values())} but lm_head "
            f"has {head.out_features} outputs"
        )
    pad = tokenizer.pad_token
    blank_id = hf_model.config.pad_token_id
    if pad is None or vocab.get(pad) != blank_id:
        raise ValueError(
            f"{what}: HF CTC blank is config.pad_token_id = {blank_id}, but the tokenizer's pad token "
            f"{pad!r} has id {vocab.get(pad)}"
        )
    rows, names, unmapped = map_tokens(
        token_list, vocab, pad=pad, word_delimiter=tokenizer.word_delimiter_token, unk=tokenizer.unk_token
    )
    device = ctc.ctc_lo.weight.device
    index = torch.tensor(sorted(rows), dtype=torch.long, device=device)
    source = torch.tensor([rows[i] for i in sorted(rows)], dtype=torch.long, device=device)
    with torch.no_grad():
        weight = head.weight.detach().to(ctc.ctc_lo.weight)
        ctc.ctc_lo.weight[index] = weight[source]
        if ctc.ctc_lo.bias is not None and head.bias is not None:
            ctc.ctc_lo.bias[index] = head.bias.detach().to(ctc.ctc_lo.bias)[source]
    if unmapped:
        logging.warning(f"init_ctc_from_hf: {len(unmapped)} tokens keep their random init: {unmapped}")
    logging.info(f"init_ctc_from_hf: copied {len(rows)}/{len(token_list)} CTC rows from {model_name_or_path}")
    return {"mapped": names, "unmapped": unmapped, "n_mapped": len(rows), "n_tokens": len(token_list)}
