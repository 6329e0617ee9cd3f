"""Command-line programs: ``python -m espnet_brain.bin.<name> --help``."""
