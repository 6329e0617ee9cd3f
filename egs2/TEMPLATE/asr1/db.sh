# shellcheck shell=bash
# shellcheck disable=SC2034
# Where each corpus lives.  Set a path here (or export the variable before running a recipe) once
# the corpus is on disk; an empty value means "not available", and the recipe's data stage says how
# to obtain it.  Relative paths are relative to the recipe directory.

# The embedded synthetic corpus, generated offline by the mini_brain recipe itself.
MINI_BRAIN=${MINI_BRAIN:-downloads/mini_brain}
# Willett et al. 2023 intracortical speech data (Brain-to-Text '24), directory of .mat files.
BRAIN2TEXT24=${BRAIN2TEXT24:-}
# Card et al. 2024 intracortical speech data (Brain-to-Text '25), directory of .hdf5 files.
BRAIN2TEXT25=${BRAIN2TEXT25:-}
# A BIDS iEEG dataset (SEEG/ECoG) root, read with MNE-BIDS.
IEEG_BIDS=${IEEG_BIDS:-}
# LeBel et al. 2023 natural-story fMRI (OpenNeuro ds003020) root.
LEBEL2023=${LEBEL2023:-}
