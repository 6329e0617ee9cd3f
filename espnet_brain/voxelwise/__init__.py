"""Voxelwise encoding statistics without ESPnet: ridge regression with per-voxel penalties, noise ceilings,
correlation scores.

Usable on its own, the way himalaya is: arrays in, arrays out, shapes ``(n_samples, n_features)`` and
``(n_samples, n_voxels)``.
"""
