"""The boundary with Hugging Face transformers: loading checkpoints from a hub id or a directory, and LoRA
adapters that really train. Everything else in the package speaks ESPnet."""
