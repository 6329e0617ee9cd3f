"""dump_encoding as a program: its options reach the dump, and errors are one line without a traceback.

What the dump writes is tested in tests/fmri/test_dump.py.
"""

from espnet_brain.bin.dump_encoding import get_parser, main


def test_options_are_parsed_into_the_dump_arguments():
    args = get_parser().parse_args(
        ["--data_root", "data", "--out", "dump", "--delays", "1,2 3", "--zscore", "false", "--chunk_sets"]
    )
    assert args.delays == [1, 2, 3] and args.zscore is False and args.chunk_sets == []
    assert args.sets == ["train", "dev", "test"] and args.chunk_trs == 10 and args.train_config is None


def test_command_line_reports_errors_without_a_traceback(tmp_path, capsys):
    out = str(tmp_path / "dump")
    assert main(["--data_root", str(tmp_path), "--out", out, "--sets", "train", "--chunk_sets", "dev"]) == 1
    assert capsys.readouterr().err == "dump_encoding: --chunk_sets: ['dev'] are not among --sets ['train']\n"
    assert main(["--data_root", str(tmp_path), "--out", out, "--sets", "train", "--chunk_sets", "train"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dump_encoding: {tmp_path / 'train'} does not exist") and "stage 1" in err
