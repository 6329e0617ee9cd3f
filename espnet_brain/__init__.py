"""espnet_brain: pretrained self-supervised speech models for brain data, as an ESPnet plugin.

Importing :mod:`espnet_brain.tasks` registers the plugin's frontends, encoders, models and
schedulers as ESPnet ``ClassChoices``; the top-level package itself stays light so that the
simulator and the readers can be used without loading ESPnet.
"""

from espnet_brain import offline_imports

__version__ = "0.1.0"

# ESPnet's tasks import g2p_en, which tries to download NLTK data (cmudict) at import and prints
# "[nltk_data] Error loading cmudict" offline; nothing here uses it (see espnet_brain.offline_imports).
offline_imports.install()
