"""No downloads while third-party modules are imported.

ESPnet's tasks import ``g2p_en`` (``espnet2.tasks.asr``, ``espnet2.tasks.lm`` and ``espnet2.text.build_tokenizer``
import ``espnet2.text.phoneme_tokenizer``, which imports it at module level), and ``g2p_en/g2p.py`` calls
``nltk.download("averaged_perceptron_tagger_eng")`` and ``nltk.download("cmudict")`` in its module body whenever
NLTK's data are not installed. Offline, every process that imports a task then prints eight
``[nltk_data] Error loading cmudict: <urlopen error ...>`` lines; online it would write to ``~/nltk_data`` at
run time. Nothing in espnet_brain uses g2p_en (the recipes tokenize characters with ``--g2p none``).

NLTK has no setting that turns downloads off, so :func:`install` puts a finder on ``sys.meta_path`` that wraps
the import of the ``g2p_en`` package alone: while its module body runs, ``nltk.download`` downloads nothing
(and returns False, NLTK's result for a failed download); afterwards it is restored. Everything else is
untouched: ``nltk.download`` called anywhere else downloads as usual, and data already installed are found
as before. Someone who really uses ESPnet's ``g2p_en`` tokenizer gets NLTK's own ``LookupError`` (which names
the download command) when the phonemizer is built.

:mod:`espnet_brain` calls :func:`install` on import; it costs no import of NLTK or ESPnet.
"""

import importlib.abc
import logging
import sys
from typing import Optional, Sequence

logger = logging.getLogger(__name__)

# The modules whose import downloads data, with what they download.
DOWNLOADING_MODULES = ("g2p_en",)


def _no_download(info_or_id=None, *args, **kwargs) -> bool:
    """Stand-in for ``nltk.download`` during the import of a module of ``DOWNLOADING_MODULES``."""
    logger.debug(f"not downloading NLTK data {info_or_id!r} at import (espnet_brain runs offline)")
    return False


class _NoDownloadLoader(importlib.abc.Loader):
    """A module's own loader, with ``nltk.download`` switched off while the module body runs."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        import nltk

        download = nltk.download
        nltk.download = _no_download
        try:
            self.loader.exec_module(module)
        finally:
            nltk.download = download

    def __getattr__(self, name):
        # get_source, get_filename, is_package, ... of the wrapped loader (tracebacks, inspect, pkgutil).
        return getattr(self.loader, name)


class NoDownloadFinder(importlib.abc.MetaPathFinder):
    """Finds the modules of ``DOWNLOADING_MODULES`` with the other finders, and loads them without downloads."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target=None):
        if fullname not in DOWNLOADING_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, NoDownloadFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _NoDownloadLoader(spec.loader)
                return spec
        return None


def install() -> None:
    """Put :class:`NoDownloadFinder` first on ``sys.meta_path`` (once per process)."""
    if not any(isinstance(finder, NoDownloadFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, NoDownloadFinder())
