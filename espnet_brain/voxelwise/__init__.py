"""Voxelwise encoding models without ESPnet or torch: ridge regression with per-voxel penalties and its solvers
(``ridge``, ``_solvers``; torch only inside the torch backends), Lanczos resampling onto the TR grid (``lanczos``),
FIR delays (``delays``), the LeBel TR grid (``timing``), design matrices and story-level fits (``stories``),
per-story arrays on disk (``io``), noise ceilings (``noise_ceiling``) and correlation scores (``scoring``).

Usable on its own, the way himalaya is: arrays in, arrays out, shapes ``(n_samples, n_features)`` and
``(n_samples, n_voxels)``.
"""
