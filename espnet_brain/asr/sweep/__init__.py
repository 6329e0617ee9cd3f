"""Brain feature extractor architecture sweeps.

:mod:`.grid` writes the grid's configs and job list; :mod:`.report` reads the scores and compares the modes.
"""
