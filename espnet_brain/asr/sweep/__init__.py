"""Brain feature extractor architecture sweeps, and the learning-rate search of one decoder.

:mod:`.grid` writes the grid's configs and job list; :mod:`.report` reads the scores and compares the modes;
:mod:`.lr_search` sets the short runs of ``brain_asr.sh --lr_grid`` and picks their best rates; :mod:`.bfe_choice`
chooses the BFE's window and projection on the dev set from short runs of the BFE-only control (``bfe_choice.sh``).
"""
