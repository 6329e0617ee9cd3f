"""Articulatory features of LeBel-layout stories from their TextGrids' phone tier, on the stimulus TR grid.

The field's interpretable control between the spectrogram and a speech model (de Heer et al., 2017): the 22
articulatory features of :mod:`espnet_brain.data.articulatory`, as the fraction of each TR during which each is
active, on the grid that extracted features use (:mod:`espnet_brain.voxelwise.timing`): N - 5 rows, row ``k``
covering audio time ``[k * TR - 10, k * TR - 10 + TR)`` (the TextGrid's clock is the audio's: 0 at sound onset, 10 s
into the scan). The arrays are what ``espnet_brain.bin.ridge_encoding`` and ``partition_encoding`` read as features.

Shapes: ``N`` TRs acquired.
"""

import logging
import os
from collections import Counter
from typing import Dict, Sequence

import numpy as np

from espnet_brain.data.articulatory import PHONE_FEATURES, articulatory_features, normalize_phone
from espnet_brain.data.lebel import load_textgrid_phones
from espnet_brain.voxelwise.timing import GRID_PAD, SOUND_START_S, TR

logger = logging.getLogger(__name__)


def story_articulatory_features(
    textgrid: str, n_acquired: int, tr: float = TR, sound_start: float = SOUND_START_S
) -> np.ndarray:
    """The articulatory features of one story on its stimulus grid.

    Args:
        textgrid: the story's TextGrid (tier ``phone``, else the first tier; ARPAbet labels).
        n_acquired: N, the story's TR count in ``respdict.json`` (``num_trs`` of a data directory).
        tr: repetition time (s).
        sound_start: scanner time (s) at which the audio (and the TextGrid's clock) starts.

    Returns:
        (N - 5, 22) float32: row ``k`` is the fraction of ``[k tr - sound_start, (k + 1) tr - sound_start)`` during
        which each feature is active. Labels that are neither ARPAbet phones nor silences are skipped (logged).
    """
    if n_acquired <= GRID_PAD:
        raise ValueError(f"{textgrid}: n_acquired must exceed {GRID_PAD}, got {n_acquired}")
    phones = load_textgrid_phones(textgrid)
    unknown = Counter(
        lab for _, _, lab in phones if normalize_phone(lab) not in PHONE_FEATURES and normalize_phone(lab)
    )
    if unknown:
        logger.warning(f"{textgrid}: skipped phone labels without articulatory features: {dict(unknown)}")
    x = articulatory_features(phones, n_acquired - GRID_PAD, tr, start=-sound_start, unknown="ignore")
    return x.astype(np.float32)


def _read_table(path: str) -> Dict[str, str]:
    if not os.path.isfile(path):
        raise ValueError(f"{path} does not exist (a data directory of espnet_brain.bin.prepare_lebel has it)")
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split(maxsplit=1)
            if len(parts) == 2:
                out[parts[0]] = parts[1]
    return out


def write_articulatory_features(data_dir: str, output_dir: str, tr: float = TR) -> Dict[str, str]:
    """Articulatory features of every story of a data directory, as ``<output_dir>/<story>.npy`` and ``feats.scp``.

    Args:
        data_dir: a LeBel data directory with ``textgrid.scp`` and ``num_trs`` (``espnet_brain.bin.prepare_lebel``).
        output_dir: where the arrays go; ``feats.scp`` lists them (``story path.npy``).
        tr: repetition time (s).

    Returns:
        {story: path of its (N - 5, 22) array}.
    """
    grids = _read_table(os.path.join(data_dir, "textgrid.scp"))
    n_trs = _read_table(os.path.join(data_dir, "num_trs"))
    missing = sorted(set(grids) ^ set(n_trs))
    if missing:
        raise ValueError(f"{data_dir}: stories {missing} are in only one of textgrid.scp and num_trs")
    os.makedirs(output_dir, exist_ok=True)
    paths = {}
    for story in sorted(grids):
        x = story_articulatory_features(grids[story], int(n_trs[story]), tr=tr)
        paths[story] = os.path.abspath(os.path.join(output_dir, f"{story}.npy"))
        np.save(paths[story], x)
    with open(os.path.join(output_dir, "feats.scp"), "w", encoding="utf-8") as f:
        f.writelines(f"{story} {path}\n" for story, path in paths.items())
    return paths


def write_many(data_dirs: Sequence[str], output_dirs: Sequence[str], tr: float = TR) -> int:
    """:func:`write_articulatory_features` of each data directory into its output directory; the story count."""
    if len(data_dirs) != len(output_dirs):
        raise ValueError(
            f"expected one output directory per data directory, got {len(data_dirs)} and {len(output_dirs)}"
        )
    return sum(len(write_articulatory_features(d, o, tr)) for d, o in zip(data_dirs, output_dirs))
