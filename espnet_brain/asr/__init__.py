"""ASR model parts of espnet_brain."""
