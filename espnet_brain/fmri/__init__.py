"""Speech to fMRI (the encoding wing): a pretrained speech model's windowed features, resampled to the TR grid,
FIR-delayed and read out to voxels, trained end to end in ESPnet (:mod:`espnet_brain.tasks.fmri_encoding`)."""
