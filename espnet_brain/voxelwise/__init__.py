"""Voxelwise encoding models without ESPnet or torch: ridge regression with per-voxel penalties and its solvers
(``ridge``, ``_solvers``; torch only inside the torch backends), Lanczos resampling onto the TR grid (``lanczos``),
FIR delays (``delays``), the LeBel TR grid (``timing``), design matrices and story-level fits (``stories``),
per-story arrays on disk (``io``), noise ceilings (``noise_ceiling``) and correlation scores (``scoring``);
banded ridge, one penalty per feature space (``banded``), variance partitioning of held-out R^2 among feature spaces
(``variance_partition``, per-ROI tables and plots in ``partition_report``), the paired block bootstrap
(``bootstrap``) and linear probes (``probes``, ``probe_runs``, ``probe_report``).

Usable on its own, the way himalaya is: arrays in, arrays out, shapes ``(n_samples, n_features)`` and
``(n_samples, n_voxels)``.
"""
