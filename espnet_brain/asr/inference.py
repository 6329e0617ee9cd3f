"""Decoding with a trained BrainASRTask model: CTC greedy or beam search (optionally with an LM).

:func:`decode` writes ``<output_dir>/text`` (``utt_id hypothesis``) and ``<output_dir>/token`` (token ids). The
program is ``python -m espnet_brain.bin.brain_asr_inference``.
"""

import logging
import time
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import torch

from espnet_brain.asr.ctc_decoding import CTCBeamSearch, greedy_ctc, tokens_to_text
from espnet_brain.tasks.brain_asr import BrainASRTask


def decode(
    asr_train_config: str,
    asr_model_file: str,
    data_path_and_name_and_type: Sequence[Tuple[str, str, str]],
    output_dir: str,
    key_file: Optional[str] = None,
    batch_size: int = 8,
    ngpu: int = 0,
    num_workers: int = 0,
    decoding: str = "greedy",
    beam_size: int = 10,
    penalty: float = 0.0,
    lm_train_config: Optional[str] = None,
    lm_file: Optional[str] = None,
    lm_weight: float = 0.0,
    logp_dir: Optional[str] = None,
) -> Path:
    """Decode every utterance of the data files and write ``text`` and ``token`` files.

    With ``logp_dir``, the frame log-posteriors of each utterance's valid frames, (T, V) float32, also go to
    ``<logp_dir>/logp.ark`` and ``logp.scp``: the input of the LM decoders (:mod:`espnet_brain.asr.lm.search`).

    Returns:
        Path of the written ``text`` file.
    """
    device = "cuda" if ngpu > 0 else "cpu"
    model, train_args = BrainASRTask.build_model_from_file(asr_train_config, asr_model_file, device)
    model.eval()
    token_list: List[str] = list(model.token_list)

    beam = None
    if decoding == "beam":
        lm = None
        if lm_train_config is not None:
            from espnet2.tasks.lm import LMTask

            lm_model, _ = LMTask.build_model_from_file(lm_train_config, lm_file, device)
            lm = lm_model.lm.eval()
        beam = CTCBeamSearch(model, beam_size=beam_size, lm=lm, lm_weight=lm_weight, penalty=penalty)

    loader = BrainASRTask.build_streaming_iterator(
        data_path_and_name_and_type,
        dtype="float32",
        batch_size=batch_size,
        key_file=key_file,
        num_workers=num_workers,
        preprocess_fn=BrainASRTask.build_preprocess_fn(train_args, False),
        collate_fn=BrainASRTask.build_collate_fn(train_args, False),
        allow_variable_data_keys=True,
        inference=True,
    )

    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    n_utts, n_frames, start = 0, 0, time.perf_counter()
    logp_writer = None
    if logp_dir is not None:
        import kaldiio

        Path(logp_dir).mkdir(parents=True, exist_ok=True)
        logp_writer = kaldiio.WriteHelper(f"ark,scp:{Path(logp_dir) / 'logp.ark'},{Path(logp_dir) / 'logp.scp'}")
    with (
        open(out_dir / "text", "w", encoding="utf-8") as f_text,
        open(out_dir / "token", "w", encoding="utf-8") as f_tok,
        torch.no_grad(),
    ):
        for keys, batch in loader:
            batch = {k: v.to(device) for k, v in batch.items() if not k.endswith("_lengths") or k == "speech_lengths"}
            enc, enc_lens = model.encode(batch["speech"], batch["speech_lengths"], day=batch.get("day"))
            log_probs = model.ctc.log_softmax(enc)
            if logp_writer is not None:
                for b, key in enumerate(keys):
                    logp_writer(key, log_probs[b, : int(enc_lens[b])].float().cpu().numpy())
            if beam is None:
                hyps = greedy_ctc(log_probs, enc_lens, blank=model.blank_id)
            else:
                hyps = [beam(enc[b, : int(enc_lens[b])]) for b in range(enc.shape[0])]
            for key, hyp in zip(keys, hyps):
                f_text.write(f"{key} {tokens_to_text(hyp, token_list)}\n")
                f_tok.write(f"{key} {' '.join(map(str, hyp))}\n")
            n_utts += len(keys)
            n_frames += int(batch["speech_lengths"].sum())
    if logp_writer is not None:
        logp_writer.close()
    elapsed = time.perf_counter() - start
    logging.info(f"decoded {n_utts} utterances ({n_frames} input frames) in {elapsed:.2f} s")
    return out_dir / "text"
