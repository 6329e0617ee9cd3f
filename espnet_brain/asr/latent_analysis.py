"""Latent analysis: do brain features land where the audio model's features are?

:func:`analyse` takes test sentences that exist both as neural recordings and as speech, embeds (a) the brain
feature extractor's output with the audio model's CNN features and (b) the transformer's last hidden states for
brain and audio input jointly in 2-D with t-SNE, and saves one PNG per comparison. The program is
``python -m espnet_brain.bin.latent_analysis``.
"""

import logging
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from espnet_brain.data.datadir import read_2columns


def _load(exp: Path, checkpoint: str):
    from espnet_brain.tasks.brain_asr import BrainASRTask

    model, _ = BrainASRTask.build_model_from_file(str(exp / "config.yaml"), str(exp / checkpoint), "cpu")
    return model.eval()


def _pairs(brain_text: Dict[str, str], audio_text: Dict[str, str], limit: int) -> List[Tuple[str, str]]:
    by_text = {}
    for key, text in sorted(audio_text.items()):
        by_text.setdefault(text, key)
    pairs = [(b, by_text[t]) for b, t in sorted(brain_text.items()) if t in by_text]
    return pairs[:limit]


@torch.no_grad()
def _features(model, speech: torch.Tensor, day: Optional[torch.Tensor]) -> Tuple[np.ndarray, np.ndarray]:
    """(frontend frames (T', D), encoder frames (T', H)) of one utterance."""
    lengths = torch.tensor([speech.shape[1]])
    feats, feats_lens = model.extract_feats(speech, lengths, day=day)
    enc, enc_lens = model.encode(speech, lengths, day=day)
    return feats[0, : int(feats_lens[0])].numpy(), enc[0, : int(enc_lens[0])].numpy()


def _tsne_plot(brain: np.ndarray, audio: np.ndarray, title: str, path: Path, seed: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE

    if brain.shape[1] != audio.shape[1]:
        raise ValueError(f"{title}: brain frames have {brain.shape[1]} dims, audio frames {audio.shape[1]}")
    x = np.concatenate([brain, audio])
    perplexity = float(min(30, max(2, (len(x) - 1) // 3)))
    emb = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*emb[: len(brain)].T, s=4, alpha=0.6, label=f"brain ({len(brain)} frames)")
    ax.scatter(*emb[len(brain) :].T, s=4, alpha=0.6, label=f"audio ({len(audio)} frames)")
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def analyse(
    brain_exp: Path,
    audio_exp: Path,
    brain_data: Path,
    audio_data: Path,
    out_dir: Path,
    checkpoint: str = "valid.loss.ave.pth",
    max_sentences: int = 20,
    max_frames: int = 1500,
    seed: int = 0,
) -> List[Path]:
    """Write the two t-SNE plots; returns their paths."""
    import kaldiio
    import soundfile

    brain_model, audio_model = _load(brain_exp, checkpoint), _load(audio_exp, checkpoint)
    pairs = _pairs(read_2columns(brain_data / "text"), read_2columns(audio_data / "text"), max_sentences)
    if not pairs:
        raise ValueError(f"no sentence of {brain_data}/text is also in {audio_data}/text")
    feats = kaldiio.load_scp(str(brain_data / "feats.scp"))
    wavs = read_2columns(audio_data / "wav.scp")
    days = {}
    if (brain_data / "utt2day").is_file():
        days = {k: int(v) for k, v in read_2columns(brain_data / "utt2day").items()}
    acc: Dict[str, List[np.ndarray]] = {"brain_front": [], "brain_enc": [], "audio_front": [], "audio_enc": []}
    for brain_key, audio_key in pairs:
        x = torch.from_numpy(np.asarray(feats[brain_key], dtype=np.float32))[None]
        day = torch.tensor([days[brain_key]]) if brain_key in days else None
        front, enc = _features(brain_model, x, day)
        acc["brain_front"].append(front)
        acc["brain_enc"].append(enc)
        wav, _ = soundfile.read(wavs[audio_key].strip(), dtype="float32")
        front, enc = _features(audio_model, torch.from_numpy(wav)[None], None)
        acc["audio_front"].append(front)
        acc["audio_enc"].append(enc)
    rng = np.random.default_rng(seed)

    def stack(name: str) -> np.ndarray:
        x = np.concatenate(acc[name])
        return x[np.sort(rng.choice(len(x), size=min(max_frames, len(x)), replace=False))]

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / "tsne_frontend.png", out_dir / "tsne_transformer.png"]
    _tsne_plot(stack("brain_front"), stack("audio_front"), "BFE output vs audio CNN features", paths[0], seed)
    _tsne_plot(stack("brain_enc"), stack("audio_enc"), "transformer states: brain vs audio input", paths[1], seed)
    logging.info(f"{len(pairs)} sentence pairs; wrote {', '.join(map(str, paths))}")
    return paths
