"""Readers of the corpora (real and synthetic): Willett ``.mat``, LeBel fMRI (``.hf5``, TextGrid, wav),
iEEG-BIDS via MNE-BIDS, and transcript normalisation."""
