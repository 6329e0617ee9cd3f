"""espnet_brain: pretrained self-supervised speech models for brain data, as an ESPnet plugin.

Importing :mod:`espnet_brain.tasks` registers the plugin's frontends, encoders, models and
schedulers as ESPnet ``ClassChoices``; the top-level package itself stays light so that the
simulator and the readers can be used without loading ESPnet.
"""

__version__ = "0.1.0"
