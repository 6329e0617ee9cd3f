"""Frontends: neural features or raw audio -> (B, T, D) frames for a speech transformer."""
