"""prepare_lebel as a program: errors without a traceback, and the recipe's quoted options reach it.

The preparation and its checks are tested in tests/data/test_lebel_prepare.py.
"""

from espnet2.fileio.read_text import read_2columns_text
from fixtures.lebel_encoding import add_bids_runs, copy_enc_recipe, editable_copy, tiny_lebel

from espnet_brain.bin.prepare_lebel import main


def test_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    assert main(["--corpus", str(tmp_path / "nothing"), "--dst", str(tmp_path / "data")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prepare_lebel: incomplete LeBel corpus") and "ds003020" in err


def test_recipe_passes_quoted_options_with_spaces_to_the_data_preparation(tmp_path):
    from fixtures.recipes import run

    # NIfTI runs in ds003020's BIDS layout, in a directory whose name has a space
    corpus = editable_copy(tiny_lebel(tmp_path / "corpus"), tmp_path / "my ds003020")
    mask, _ = add_bids_runs(corpus)
    rec = copy_enc_recipe(tmp_path / "repo", "lebel2023")
    template = "{root}/sub-{subject}/ses-*/func/sub-{subject}_ses-*_task-{story}_*bold.nii.gz"
    opts = f"--responses nifti --n_dev 1 --brain_mask '{mask}' --nifti_template '{template}'"
    run(rec, "--stop_stage", "1", "--local_data_opts", opts, env={"LEBEL2023": str(corpus)})
    assert read_2columns_text(str(rec / "data" / "test" / "repeats.scp"))["wheretheressmoke"].endswith(
        "data/test/responses/wheretheressmoke.hf5"
    )
    assert (rec / "data" / "brain_mask").read_text().strip() == str(mask)
