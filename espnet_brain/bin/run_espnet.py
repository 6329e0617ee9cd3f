"""Run one of ESPnet's own programs in a process that has loaded espnet_brain first.

Example::

    python -m espnet_brain.bin.run_espnet espnet2.bin.tokenize_text --token_type char --input text ...

The stage scripts call ESPnet's programs that the plugin does not wrap (``tokenize_text``, ``lm_train``, ``pack``)
through here, so that what importing :mod:`espnet_brain` sets up applies to them too: ESPnet's tasks import
``g2p_en``, which tries to download NLTK data at import (see :mod:`espnet_brain.offline_imports`).
"""

import runpy
import sys

# Nothing to import for the hooks: running this module (python -m espnet_brain.bin.run_espnet) has imported the
# espnet_brain package, which installs them.


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or not argv[0].startswith("espnet2.bin."):
        raise SystemExit("usage: python -m espnet_brain.bin.run_espnet espnet2.bin.PROGRAM [ARGS...]")
    module, *args = argv
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
