"""Brain-to-text model parts: the day-aware ESPnet model, CTC decoding and scoring."""
