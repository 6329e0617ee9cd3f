"""score_encoding as a program: errors in the inputs and in --system are reported without a traceback.

The scores and the report are tested in tests/voxelwise/test_report.py.
"""

import kaldiio
import numpy as np
import pytest

from espnet_brain.bin.score_encoding import main


@pytest.fixture
def files(tmp_path):
    with kaldiio.WriteHelper(f"ark,scp:{tmp_path}/resp.ark,{tmp_path}/resp.scp") as w:
        w("story", np.random.default_rng(0).normal(size=(80, 6)).astype(np.float32))
    return dict(tmp=tmp_path)


def test_missing_story_and_bad_system_are_reported(files, capsys):
    tmp = files["tmp"]
    (tmp / "empty").mkdir()
    np.save(tmp / "empty" / "other.npy", np.zeros((80, 6)))
    rc = main(["--responses", str(tmp / "resp.scp"), "--system", f"x={tmp / 'empty'}", "--out", str(tmp / "R.md")])
    assert rc == 1 and "no entry for test stories ['story']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--responses", str(tmp / "resp.scp"), "--system", "no-equals-sign", "--out", str(tmp / "R.md")])
    assert "--system: expected NAME=PATH, got 'no-equals-sign'" in capsys.readouterr().err


def test_options_reach_the_report(files):
    tmp = files["tmp"]
    (tmp / "pred").mkdir()
    np.save(tmp / "pred" / "story.npy", np.random.default_rng(1).normal(size=(80, 6)))
    rc = main([
        "--responses", str(tmp / "resp.scp"), "--system", f"a = b={tmp / 'pred'}", "--out", str(tmp / "R.md"),
        "--title", "my title", "--note", "first note", "--note", "second note",
    ])  # fmt: skip
    assert rc == 0
    report = (tmp / "R.md").read_text()
    assert report.startswith("# my title\n") and "- first note\n- second note\n" in report
    assert "| a = b | 6 |" in report and "No repeats of the test story" in report
    assert (tmp / "r_a_b.npy").is_file()
