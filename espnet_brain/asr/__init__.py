"""Brain to text (the decoding wing), mirroring ``espnet2.asr``: frontends (the brain feature extractor, the
audio CNN of an HF speech model), the HF transformer encoder, the day-aware model, CTC initialisation,
feasibility, decoding and scoring."""
