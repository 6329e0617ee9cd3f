"""The offline synthetic corpus ``mini_brain``: deterministic, in the real corpora's file formats.

Generate it with ``python -m espnet_brain.bin.simulate --out DIR --preset {tiny,small,bench} --seed N
[--parts text,speech,intracortical,fmri,ieeg] [--set part.knob=value ...]`` or
:func:`make_corpus`. The same seed gives byte-identical files; another seed gives different ones.
Each part's files depend only on (seed, preset), not on which other parts are generated.

Layout of ``DIR`` (the contract the recipes rely on)::

    MANIFEST.json                 preset, seed, package version, config, counts, sample rates, TR,
                                  what is ground truth
    text/{train,dev,test}.txt     "<sent_id> <sentence>", natural text ("I don't know."); the splits
                                  are disjoint and every dev/test word occurs in train
    speech/{train,dev,test}/      <utt_id>.wav (16 kHz mono PCM16, eSpeak NG with varied voice, rate
                                  and pitch), text ("<utt_id> <sentence>"), utt2spk, and
                                  alignments/<utt_id>.json (phoneme and word start/end/label, s)
    brain2text24/{train,test,competitionHoldOut}/t12.<yyyy.mm.dd>.mat
                                  Willett et al. (2023) layout, one file per day; the dev sentences
                                  of the text split are the LAST block of each day's train/ file
    brain2text24/ground_truth/    tuning, leads, per-day gain/offset drift, dead channels, timing
    lebel2023/                    OpenNeuro ds003020 layout: stimuli/<story>.wav,
                                  derivative/TextGrids/<story>.TextGrid, derivative/respdict.json,
                                  derivative/preprocessed_data/<subject>/<story>.hf5
                                  (wheretheressmoke.hf5 also holds "individual_repeats")
    lebel2023/derivative/ground_truth/<subject>/
                                  true features (spectral, articulatory, word rate, semantic
                                  blocks), FIR weights, noiseless signals, SNR, variance shares
                                  per feature space, voxel kinds (roi.json)
    ieeg_bids/                    iEEG-BIDS (MNE-BIDS, BrainVision): channels.tsv with bad channels,
                                  events.tsv with onset, duration, trial_type, value, sent_id, sentence
    ieeg_bids/derivatives/ground_truth/
                                  channel tuning, lags and the true high-gamma envelopes

Conventions (details in each part's module docstring):

* Willett files (:mod:`~espnet_brain.simulate.intracortical`): 20 ms bins, 256 electrodes, columns
  0-127 area 6v (tuned to phonemes/articulation, leading the sound by 100-200 ms), 128-255 area 44
  (untuned or weakly tuned); ``tx1 >= tx2 >= tx3 >= tx4``; hold-out sentences have empty text.
* fMRI (:mod:`~espnet_brain.simulate.fmri`): TR = 2.0 s; ``respdict[story] = N`` volumes; the audio
  starts at scanner time 10 s; the stimulus grid ``k = 0 .. N - 6`` covers audio time
  ``[k TR - 10, k TR - 10 + TR)`` and ``.hf5`` rows are ``grid[10:-5]`` (N - 20 rows), as in the lab's
  code. The noiseless response is ``signal[k] = sum_{d=1..4} X[k - d] @ W[d - 1]`` with the saved
  TR-level features X and weights W; the data add Gaussian noise at the saved per-voxel SNR. The voxels
  form a hierarchical cortex (de Heer et al., 2017): primary auditory (band envelopes), speech
  (articulatory features of the phone tier), semantic (word embeddings), mixed border voxels and noise.
* Everything under ``ground_truth`` is what produced the data and does not exist in the real corpora.
"""

from espnet_brain.simulate.corpus import PART_DIRS, ensure_corpus, make_corpus
from espnet_brain.simulate.presets import PARTS, PRESETS, get_preset

__all__ = ["make_corpus", "ensure_corpus", "PRESETS", "PARTS", "PART_DIRS", "get_preset"]
