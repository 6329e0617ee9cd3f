"""Learning-rate schedulers registered as ESPnet scheduler choices."""
