"""The voxelwise package imports and fits without torch or ESPnet, as a himalaya-style library."""

import os
import subprocess
import sys
import textwrap

import espnet_brain.voxelwise

PACKAGE_DIR = os.path.dirname(espnet_brain.voxelwise.__file__)
MODULES = sorted(f[:-3] for f in os.listdir(PACKAGE_DIR) if f.endswith(".py") and f != "__init__.py")

SCRIPT = textwrap.dedent(
    """
    import importlib
    import sys


    class Blocked:
        # an import of torch or ESPnet fails as it would where they are not installed
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "espnet2", "espnet"):
                raise ModuleNotFoundError(f"No module named {name!r} (blocked)", name=name)
            return None


    sys.meta_path.insert(0, Blocked())
    for name in sys.argv[1:]:
        importlib.import_module(f"espnet_brain.voxelwise.{name}")

    import numpy as np

    from espnet_brain.voxelwise.delays import make_delayed_np
    from espnet_brain.voxelwise.lanczos import lanczos_downsample_np
    from espnet_brain.voxelwise.ridge import VoxelwiseRidgeCV
    from espnet_brain.voxelwise.stories import fit_predict

    rng = np.random.default_rng(0)
    ends = np.arange(1, 801) * 0.25  # features every 0.25 s
    feats = rng.standard_normal((800, 3))
    x = make_delayed_np(lanczos_downsample_np(feats, ends, np.arange(100) * 2.0 + 1.0), [1, 2])  # (100, 6)
    y = x @ rng.standard_normal((6, 4)) + 0.1 * rng.standard_normal((100, 4))
    model = VoxelwiseRidgeCV(alphas=[0.1, 1.0, 10.0], cv=4, backend="numpy").fit(x[:80], y[:80])
    r = model.score(x[80:], y[80:])
    assert r.shape == (4,) and np.all(r > 0.9), r
    stories = {s: rng.standard_normal((60, 2)) for s in ("a", "b", "c")}
    responses = {s: rng.standard_normal((45, 3)) for s in ("a", "b")}
    preds, _ = fit_predict(stories, responses, {"c": stories["c"]}, n_splits=2, chunk_len=10)
    assert preds["c"].shape == (45, 3)
    assert not any(m.split(".")[0] in ("torch", "espnet2", "espnet") for m in sys.modules), "torch or ESPnet loaded"
    print("OK")
    """
)


def test_every_module_imports_and_a_ridge_fits_without_torch_or_espnet():
    expected = {"ridge", "_solvers", "lanczos", "delays", "timing", "stories", "noise_ceiling", "scoring", "probes"}
    assert expected <= set(MODULES)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, *MODULES], capture_output=True, text=True, env={**os.environ}, timeout=300
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr
