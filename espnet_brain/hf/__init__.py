"""The boundary with Hugging Face transformers; everything else in the package speaks ESPnet.

``loading`` (hub id or directory, one not-found error, float32), ``layers`` (cutting a transformer),
``waveform`` (per-utterance normalisation), ``tokens`` (ESPnet <-> HF CTC tokens), ``writer`` (random models
and tokenizers for recipes and tests), ``lora`` (adapters that really train) and ``ctranslate2`` (CTranslate2 /
faster-whisper Whisper checkpoints, the installed Whisper packages among them, read into transformers' Whisper).
"""
