"""The boundary with Hugging Face transformers; everything else in the package speaks ESPnet.

``loading`` (hub id or directory, one not-found error, float32), ``layers`` (cutting a transformer),
``waveform`` (per-utterance normalisation), ``tokens`` (ESPnet <-> HF CTC tokens), ``writer`` (random models
and tokenizers for recipes and tests) and ``lora`` (adapters that really train).
"""
