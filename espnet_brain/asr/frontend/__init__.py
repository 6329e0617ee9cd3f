"""Frontends: neural features or raw audio -> (B, T, D) frames for a speech transformer."""

import importlib

# The plugin's frontends by their config name (``frontend: brain_gru``) and where they live. Imported on demand:
# a program that builds only a frontend (the CTC feasibility check) need not import ESPnet's ASR task.
FRONTEND_PATHS = {
    "brain_gru": "espnet_brain.asr.frontend.brain_gru:BrainGRUFrontend",
    "hf_cnn": "espnet_brain.asr.frontend.hf_cnn:HFConvFrontend",
    "hf_whisper_stem": "espnet_brain.asr.frontend.hf_whisper_stem:HFWhisperStemFrontend",
}


def frontend_class(name: str) -> type:
    """The class of the plugin's frontend ``name`` (a key of :data:`FRONTEND_PATHS`)."""
    module, _, cls = FRONTEND_PATHS[name].partition(":")
    return getattr(importlib.import_module(module), cls)
