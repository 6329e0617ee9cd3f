"""Speech-to-fMRI encoding: voxelwise ridge, Lanczos resampling, FIR delays, losses, SSL features with LoRA,
readout head and scoring."""
