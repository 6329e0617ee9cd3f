"""Tests of the recipe scaffolding in egs2/TEMPLATE: option parsing, stage gating, path.sh, cmd.sh,
the local and Slurm job launchers, and recipe creation.  Every test runs bash in a temporary copy."""

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "egs2" / "TEMPLATE"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="the recipe scripts need bash")


def _env(**extra):
    env = dict(os.environ)
    # The launchers are "#!/usr/bin/env python3": use the interpreter running the tests.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["ESPNET_BRAIN_AUTO_INSTALL"] = "0"
    for key in ("ESPNET_BRAIN_CMD_BACKEND", "OMP_NUM_THREADS", "HF_HUB_OFFLINE"):
        env.pop(key, None)
    env.update(extra)
    return env


def run(args, cwd, env=None, **kwargs):
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=60, **kwargs
    )


def write(path: Path, text: str, executable=False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    if executable:
        path.chmod(0o755)
    return path


@pytest.fixture
def recipe(tmp_path):
    """A fresh repository-like tree tmp/egs2/{TEMPLATE,demo/asr1} made by TEMPLATE/asr1/setup.sh."""
    shutil.copytree(TEMPLATE, tmp_path / "egs2" / "TEMPLATE", symlinks=True)
    res = run([tmp_path / "egs2/TEMPLATE/asr1/setup.sh", "egs2/demo/asr1"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rdir = tmp_path / "egs2" / "demo" / "asr1"
    shutil.copy(TEMPLATE / "asr1" / "example_stages.sh", rdir / "example_stages.sh")
    return rdir


OPTS_SCRIPT = """
#!/usr/bin/env bash
set -euo pipefail
stage=1
use_lm=false
train_args=""
dump_dir=dump
help_message="Usage: opts.sh [options]
  --stage       first stage
  --use_lm      use a language model (true/false)
  --train_args  extra trainer arguments
  --dump_dir    where features go"
. utils/parse_options.sh
printf '%s\\n' "stage=${stage}" "use_lm=${use_lm}" "train_args=${train_args}" "dump_dir=${dump_dir}" "rest=$*"
"""


def _values(stdout):
    return dict(line.split("=", 1) for line in stdout.splitlines())


# ----------------------------------------------------------------------------- parse_options.sh


def test_parse_options_both_syntaxes_and_passthrough(recipe):
    write(recipe / "opts.sh", OPTS_SCRIPT)
    res = run(
        [
            "bash",
            "opts.sh",
            "--stage",
            "3",
            "--use_lm=true",
            "--train_args",
            "--max_epoch 3 --batch_size 4",
            "--dump-dir=/data/x y",
            "--",
            "pos 1",
            "pos2",
        ],
        recipe,
    )
    assert res.returncode == 0, res.stderr
    assert _values(res.stdout) == {
        "stage": "3",
        "use_lm": "true",
        "train_args": "--max_epoch 3 --batch_size 4",
        "dump_dir": "/data/x y",
        "rest": "pos 1 pos2",
    }


def test_parse_options_value_with_equals_and_defaults_kept(recipe):
    write(recipe / "opts.sh", OPTS_SCRIPT)
    res = run(["bash", "opts.sh", "--train_args=--lr=0.1 --seed=2"], recipe)
    assert res.returncode == 0, res.stderr
    values = _values(res.stdout)
    assert values["train_args"] == "--lr=0.1 --seed=2"
    assert values["stage"] == "1" and values["use_lm"] == "false"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--nosuch", "1"], "unknown option --nosuch"),
        (["--stage", "2", "--use-lmm=true"], "unknown option --use-lmm"),
        (["--use_lm", "yes"], "option --use_lm expects true or false, got 'yes'"),
        (["--stage"], "option --stage needs a value"),
    ],
)
def test_parse_options_rejects_bad_options(recipe, args, message):
    write(recipe / "opts.sh", OPTS_SCRIPT)
    res = run(["bash", "opts.sh"] + args, recipe)
    assert res.returncode != 0
    assert message in res.stderr
    assert res.stdout == ""


def test_parse_options_help_prints_caller_message(recipe):
    write(recipe / "opts.sh", OPTS_SCRIPT)
    res = run(["bash", "opts.sh", "--stage", "2", "--help"], recipe)
    assert res.returncode == 0
    for option in ("--stage", "--use_lm", "--train_args", "--dump_dir"):
        assert option in res.stdout
    assert "stage=" not in res.stdout  # exited before the script body


# ----------------------------------------------------------------------------- stage_utils.sh


def test_help_lists_options_with_defaults_and_stages(recipe):
    res = run(["./example_stages.sh", "--nj", "5", "--help"], recipe)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "--stage" in out and "First stage to run." in out
    # help_message is built before parsing, so --help shows the defaults, not "--nj 5".
    assert '--nj                     Number of parallel jobs in stage 2. (default: "2")' in out
    assert "--upper" in out and 'default: "false"' in out
    assert "Stages:" in out
    for line in ("1  Prepare the data directory", "2  Count words, one job per split", "3  Write RESULTS.md"):
        assert line in out
    assert not (recipe / "data").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--stage", "4"], "stage 4 does not exist; stages are 1..3"),
        (["--stage", "0"], "stage 0 does not exist; stages are 1..3"),
        (["--stage", "two"], "--stage must be an integer, got 'two'"),
        (["--stop_stage", "1.5"], "--stop_stage must be an integer, got '1.5'"),
        (["--stage", "3", "--stop_stage", "2"], "--stop_stage 2 is before --stage 3"),
        (["--skip_stages", "2 7"], "--skip_stages: stage 7 does not exist; stages are 1..3"),
        (["--nj", "0"], "--nj must be >= 1, got 0"),
    ],
)
def test_stage_validation(recipe, args, message):
    res = run(["./example_stages.sh"] + args, recipe)
    assert res.returncode != 0
    assert message in res.stderr
    # The message points at the stage script, not at the helper that found the problem.
    assert " example_stages.sh:" in res.stderr and "stage_utils.sh" not in res.stderr
    assert not (recipe / "data").exists()


def test_stages_are_gated_and_resumable(recipe):
    res = run(["./example_stages.sh", "--stop_stage", "1", "--upper", "true"], recipe)
    assert res.returncode == 0, res.stderr
    assert (recipe / "data/example/text").read_text().startswith("THE QUICK")
    assert "Stage 1/3: Prepare the data directory" in res.stderr
    assert "Stage 2/3" not in res.stderr
    assert not (recipe / "exp").exists()

    res = run(["./example_stages.sh", "--stage", "2", "--nj", "3", "--skip_stages", "3"], recipe)
    assert res.returncode == 0, res.stderr
    assert "Stage 1/3" not in res.stderr and "Stage 2/3" in res.stderr
    assert "Stage 3: Write RESULTS.md (skipped: --skip_stages)" in res.stderr
    assert sorted(p.name for p in (recipe / "exp/example/log").glob("count.*.log")) == [
        "count.1.log",
        "count.2.log",
        "count.3.log",
    ]
    assert not (recipe / "exp/example/RESULTS.md").exists()

    # stop_stage past the last stage means "to the end", as in ESPnet recipes.
    res = run(["./example_stages.sh", "--stage", "3", "--nj", "3", "--stop_stage", "10000"], recipe)
    assert res.returncode == 0, res.stderr
    assert "| 9 |" in (recipe / "exp/example/RESULTS.md").read_text()  # 9 words in the example text


def test_log_is_timestamped_with_script_and_line(recipe):
    write(
        recipe / "logger.sh",
        """
        #!/usr/bin/env bash
        set -euo pipefail
        . utils/stage_utils.sh
        log "hello there"
        die "bad thing"
        echo unreachable
        """,
    )
    res = run(["bash", "logger.sh"], recipe)
    assert res.returncode == 1
    lines = res.stderr.splitlines()
    assert lines[0].endswith(" logger.sh:4: hello there")
    assert lines[1].endswith(" logger.sh:5: ERROR: bad thing")
    assert lines[0][:4].isdigit() and lines[0][10] == "T"
    assert "unreachable" not in res.stdout


# ----------------------------------------------------------------------------- path.sh / cmd.sh


PROBE = """
set -euo pipefail
. ./path.sh
printf '%s\\n' "python=$(command -v python3)" "unbuffered=${PYTHONUNBUFFERED}" "omp=${OMP_NUM_THREADS}" \
    "path0=${PATH%%:*}" "main_root=${MAIN_ROOT}" "hf_offline=${HF_HUB_OFFLINE-unset}" "opts=$-" \
    "activated=${FAKE_ACTIVATED-no}"
"""


def test_path_sh_without_venv_uses_current_python_and_warns(recipe, tmp_path):
    res = run(["bash", "-c", PROBE], recipe, env=_env(ESPNET_BRAIN_AUTO_INSTALL="0"))
    assert res.returncode == 0, res.stderr
    values = _values(res.stdout)
    assert "WARNING: no " in res.stderr and "tools/activate_python.sh; using" in res.stderr
    assert values["python"] == shutil.which("python3", path=_env()["PATH"])
    assert values["unbuffered"] == "1"
    assert values["omp"] == "1"
    assert values["path0"] == f"{recipe}/utils"
    assert Path(values["main_root"]) == tmp_path
    assert values["hf_offline"] == "unset"
    assert "u" in values["opts"] and "e" in values["opts"]  # the caller's shell options survive


def test_path_sh_sources_activate_script_and_keeps_omp(recipe, tmp_path):
    write(tmp_path / "tools/activate_python.sh", "export FAKE_ACTIVATED=yes\n")
    res = run(["bash", "-c", PROBE], recipe, env=_env(OMP_NUM_THREADS="4"))
    assert res.returncode == 0, res.stderr
    values = _values(res.stdout)
    assert values["activated"] == "yes"
    assert values["omp"] == "4"
    assert "WARNING" not in res.stderr


def test_path_sh_stops_when_activation_fails(recipe, tmp_path):
    write(tmp_path / "tools/activate_python.sh", "echo activating; false\n")
    res = run(["bash", "-c", PROBE], recipe)
    assert res.returncode != 0
    assert "tools/activate_python.sh failed (exit code 1)" in res.stderr
    assert "python=" not in res.stdout


def test_path_sh_auto_install_runs_once(recipe, tmp_path):
    write(
        tmp_path / "tools/install.sh",
        """
        #!/usr/bin/env bash
        set -euo pipefail
        echo run >>install.count
        echo "export FAKE_ACTIVATED=installed" >activate_python.sh
        """,
    )
    env = _env(ESPNET_BRAIN_AUTO_INSTALL="1")
    for _ in range(2):
        res = run(["bash", "-c", PROBE], recipe, env=env)
        assert res.returncode == 0, res.stderr
        assert _values(res.stdout)["activated"] == "installed"
    assert (tmp_path / "tools/install.count").read_text().splitlines() == ["run"]


def test_path_sh_stops_when_install_fails(recipe, tmp_path):
    write(tmp_path / "tools/install.sh", "#!/usr/bin/env bash\nexit 3\n")
    res = run(["bash", "-c", PROBE], recipe, env=_env(ESPNET_BRAIN_AUTO_INSTALL="1"))
    assert res.returncode != 0
    assert "tools/install.sh failed" in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("backend, launcher", [(None, "run.pl"), ("slurm", "slurm.pl --config conf/slurm.conf")])
def test_cmd_sh_selects_backend(recipe, backend, launcher):
    env = _env(**({"ESPNET_BRAIN_CMD_BACKEND": backend} if backend else {}))
    script = (
        'set -eu; . ./path.sh 2>/dev/null; . ./cmd.sh; echo "$train_cmd|$cuda_cmd|$decode_cmd"; command -v ${train_cmd}'
    )
    res = run(["bash", "-c", script], recipe, env=env)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "|".join([launcher] * 3)
    # The Kaldi-style names are on PATH (through path.sh) and lead to the Python launchers.
    target = "run_local.py" if backend is None else "run_slurm.py"
    assert os.path.realpath(lines[1]) == str((recipe / "utils" / target).resolve())


def test_espnet_launch_runs_through_run_pl(recipe):
    pytest.importorskip("espnet2.bin.launch")
    script = (
        "set -eu; . ./path.sh 2>/dev/null; . ./cmd.sh; "
        'python3 -m espnet2.bin.launch --cmd "${cuda_cmd} --name demo" --log exp/train/train.log --ngpu 0 '
        "-- python3 -c 'import sys; print(\"ARGS\", sys.argv[1:])' --output_dir 'exp/a b'"
    )
    res = run(["bash", "-c", script], recipe)
    assert res.returncode == 0, res.stderr
    text = (recipe / "exp/train/train.log").read_text()
    assert "ARGS ['--output_dir', 'exp/a b', '--ngpu', '0', '--multiprocessing_distributed', 'True']" in text
    assert "exit code 0" in text.splitlines()[-1]


def test_cmd_sh_rejects_unknown_backend(recipe):
    res = run(["bash", "-c", "set -eu; . ./cmd.sh; echo sourced"], recipe, env=_env(ESPNET_BRAIN_CMD_BACKEND="sge"))
    assert res.returncode != 0
    assert "unknown cmd_backend 'sge'" in res.stderr
    assert "sourced" not in res.stdout


# ----------------------------------------------------------------------------- brain_enc.sh

FAKE_PYTHON3 = """
#!/usr/bin/env bash
# python3 that records the trainer's arguments (one per line) instead of training; anything else runs for real.
if [ "${1-}" = -m ] && [ "${2-}" = espnet_brain.bin.fmri_encoding_train ]; then
    printf '%s\\n' "$@" >>"${FAKE_CALLS}"
    exit 0
fi
exec "${REAL_PYTHON3}" "$@"
"""


def test_brain_enc_statistics_stage_gets_the_trainer_arguments(tmp_path):
    # The statistics stage builds the model as training does: an override of the config that the model needs
    # (--enc_args "--frontend_conf layer=3" on a 4-layer model) must reach it, as ESPnet's asr.sh does.
    shutil.copytree(TEMPLATE, tmp_path / "egs2" / "TEMPLATE", symlinks=True)
    res = run([tmp_path / "egs2/TEMPLATE/enc1/setup.sh", "egs2/demo/enc1"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    rdir = tmp_path / "egs2" / "demo" / "enc1"
    write(rdir / "conf/enc.yaml", "frontend_conf:\n  layer: 9\n")
    write(rdir / "dump/n_voxels", "7\n")
    calls = tmp_path / "calls.txt"
    write(tmp_path / "fakebin/python3", FAKE_PYTHON3, executable=True)
    env = _env(FAKE_CALLS=str(calls), REAL_PYTHON3=sys.executable)
    env["PATH"] = f"{tmp_path / 'fakebin'}{os.pathsep}{env['PATH']}"
    args = ["--stage", "5", "--stop_stage", "5", "--enc_config", "conf/enc.yaml", "--spectral_baseline", "false"]
    res = run(["./brain_enc.sh", *args, "--enc_args", "--frontend_conf layer=3 --max_epoch 2"], rdir, env=env)
    assert res.returncode == 0, res.stderr
    argv = calls.read_text().splitlines()
    assert argv[argv.index("--collect_stats") + 1] == "true"
    # After the config (and the recipe's own overrides), so that they win.
    assert argv[-4:] == ["--frontend_conf", "layer=3", "--max_epoch", "2"]
    assert argv.index("--config") < len(argv) - 4


# ----------------------------------------------------------------------------- run_local.py

LOCAL = TEMPLATE / "utils" / "run_local.py"


def test_local_substitutes_job_and_writes_logs(tmp_path):
    res = run([LOCAL, "JOB=1:3", "exp/log/hello.JOB.log", "echo", "job", "JOB", "of", "data/split3/JOB"], tmp_path)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for i in (1, 2, 3):
        lines = (tmp_path / f"exp/log/hello.{i}.log").read_text().splitlines()
        assert lines[0] == f"# Command: echo job {i} of data/split3/{i}"
        assert lines[1].startswith("# Started: ") and f"job {i}" in lines[1]
        assert lines[2] == f"job {i} of data/split3/{i}"
        assert lines[3].startswith("# Finished: ") and "exit code 0" in lines[3]


def test_local_quotes_arguments_with_spaces_and_keeps_operators(tmp_path):
    res = run(
        [
            LOCAL,
            "--num_threads",
            "3",
            "q.log",
            "python3",
            "-c",
            "import os, sys; print(sys.argv[1:], os.environ['OMP_NUM_THREADS'])",
            "a b",
            "c",
            "|",
            "tr",
            "a-z",
            "A-Z",
        ],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "['A B', 'C'] 3" in (tmp_path / "q.log").read_text()


def _max_overlap(stamp_dir: Path) -> int:
    events = []
    for f in stamp_dir.glob("*.t"):
        start, end = map(float, f.read_text().split())
        events += [(start, 1), (end, -1)]
    level = best = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        level += step
        best = max(best, level)
    return best


@pytest.mark.parametrize("limit", [2, None])
def test_local_honours_max_jobs_run(tmp_path, limit):
    (tmp_path / "t").mkdir()
    opts = ["--max_jobs_run", str(limit)] if limit else []
    res = run(
        [LOCAL] + opts + ["JOB=1:4", "log/s.JOB.log", "s=$(date +%s.%N); sleep 0.3; echo $s $(date +%s.%N) > t/JOB.t"],
        tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert len(list((tmp_path / "t").glob("*.t"))) == 4
    if limit:
        assert _max_overlap(tmp_path / "t") == limit
    else:
        # All four start together (3 or more even on a busy machine): no hidden limit of 2.
        assert _max_overlap(tmp_path / "t") > 2


def test_local_failure_names_failed_logs_and_shows_tail(tmp_path):
    res = run([LOCAL, "JOB=1:3", "exp/log/f.JOB.log", "echo output-of-JOB; exit $(( JOB == 2 ? 3 : 0 ))"], tmp_path)
    assert res.returncode == 1
    assert "1 of 3 job(s) failed" in res.stderr
    assert "exp/log/f.2.log (exit code 3)" in res.stderr
    assert "f.1.log" not in res.stderr and "f.3.log" not in res.stderr
    assert "output-of-2" in res.stderr  # the last lines of the failed log
    assert "exit code 3" in (tmp_path / "exp/log/f.2.log").read_text().splitlines()[-1]
    # The other jobs still ran to the end.
    assert "exit code 0" in (tmp_path / "exp/log/f.3.log").read_text()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--bogus", "1", "x.log", "true"], "unknown option --bogus"),
        (["--max_jobs_run", "0", "x.log", "true"], "--max_jobs_run expects an integer >= 1, got '0'"),
        (["JOB=1:2", "x.log", "true"], "does not contain JOB"),
        (["JOB=3:2", "x.JOB.log", "true"], "empty job range"),
        (["x.log"], "expected a log file and a command"),
        (["--num_nodes", "2", "x.log", "true"], "runs on one machine"),
    ],
)
def test_local_usage_errors(tmp_path, args, message):
    res = run([LOCAL] + args, tmp_path)
    assert res.returncode == 2
    assert message in res.stderr


# ----------------------------------------------------------------------------- run_slurm.py

SLURM = TEMPLATE / "utils" / "run_slurm.py"

FAKE_SBATCH = r"""
#!/usr/bin/env bash
# Fake sbatch: records its arguments, runs the tasks in the background after a delay.
set -euo pipefail
state=${FAKE_SLURM_DIR:?}
printf '%s\n' "$*" >>"$state/sbatch.calls"
if [ -n "${FAKE_SBATCH_FAIL:-}" ]; then echo "sbatch: error: invalid partition" >&2; exit 1; fi
array="" output="" script=""
for arg in "$@"; do
    case $arg in
        --array=*) array=${arg#--array=} ;;
        --output=*) output=${arg#--output=} ;;
        -*) ;;
        *) script=$arg ;;
    esac
done
id=$((1000 + $(wc -l <"$state/sbatch.calls")))
touch "$state/running.$id"
(
    sleep 0.2
    if [ -n "$array" ]; then
        range=${array%%%*}
        for ((t = ${range%-*}; t <= ${range#*-}; t++)); do
            case " ${FAKE_SLURM_KILL:-} " in *" $t "*) continue ;; esac
            SLURM_JOB_ID=$id SLURM_ARRAY_TASK_ID=$t bash "$script" >"${output//%a/$t}" 2>&1 || true
        done
    else
        SLURM_JOB_ID=$id bash "$script" >"$output" 2>&1 || true
    fi
    rm -f "$state/running.$id"
) </dev/null >/dev/null 2>&1 &
echo "$id"
"""

FAKE_SQUEUE = r"""
#!/usr/bin/env bash
set -euo pipefail
state=${FAKE_SLURM_DIR:?}
id=""
for arg in "$@"; do case $arg in --jobs=*) id=${arg#--jobs=} ;; esac; done
echo "$*" >>"$state/squeue.calls"
if [ -e "$state/running.$id" ]; then echo "${id}_1"; fi
"""


@pytest.fixture
def fake_slurm(tmp_path):
    """Fake sbatch/squeue on PATH, a fast-polling config, and the environment to use them."""
    bindir, state = tmp_path / "fakebin", tmp_path / "slurmstate"
    state.mkdir()
    # The name ESPnet uses for the Slurm launcher, as in a recipe's utils/.
    os.symlink(SLURM, tmp_path / "slurm.pl")
    write(bindir / "sbatch", FAKE_SBATCH, executable=True)
    write(bindir / "squeue", FAKE_SQUEUE, executable=True)
    write(bindir / "scancel", "#!/usr/bin/env bash\n", executable=True)
    write(
        tmp_path / "slurm.conf",
        """
        # test cluster
        sbatch_flags = --export=ALL --account=brain
        gpu_flags = -p gpu --gres=gpu:{gpu}
        cpu_flags = -p cpu
        poll_interval = 0.1
        grace_period = 0.3
        """,
    )
    env = _env(FAKE_SLURM_DIR=str(state))
    env["PATH"] = f"{bindir}{os.pathsep}{env['PATH']}"
    return env, state


def test_slurm_submits_array_maps_resources_and_waits(tmp_path, fake_slurm):
    env, state = fake_slurm
    res = run(
        [
            SLURM,
            "--config",
            "slurm.conf",
            "--gpu",
            "2",
            "--mem",
            "3G",
            "--num_threads",
            "4",
            "--max_jobs_run",
            "2",
            "--time",
            "1:00:00",
            "JOB=1:3",
            "exp/log/dec.JOB.log",
            "echo",
            "task JOB threads $OMP_NUM_THREADS",
        ],
        tmp_path,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    calls = (state / "sbatch.calls").read_text().splitlines()
    assert len(calls) == 1
    args = calls[0].split()
    for flag in (
        "--export=ALL",
        "--account=brain",
        "-p",
        "gpu",
        "--gres=gpu:2",
        "--mem=3G",
        "--cpus-per-task=4",
        "--time=1:00:00",
        "--array=1-3%2",
        "--job-name=dec",
    ):
        assert flag in args
    assert "cpu" not in args
    # The fake jobs start 0.2 s after sbatch returns, so complete logs prove that the launcher waited.
    for i in (1, 2, 3):
        lines = (tmp_path / f"exp/log/dec.{i}.log").read_text().splitlines()
        assert lines[0] == f"# Command: echo 'task {i} threads $OMP_NUM_THREADS'"
        assert "slurm job 1001" in lines[1]
        assert lines[2] == f"task {i} threads $OMP_NUM_THREADS"
        assert "exit code 0" in lines[-1]


def test_slurm_single_job_without_gpu(tmp_path, fake_slurm):
    env, state = fake_slurm
    res = run([SLURM, "--config", "slurm.conf", "exp/train.log", "echo", "trained"], tmp_path, env=env)
    assert res.returncode == 0, res.stderr
    args = (state / "sbatch.calls").read_text().split()
    assert "--array" not in " ".join(args) and "-p" in args and "cpu" in args and "--gres=gpu:0" not in args
    assert "--job-name=train" in args and "--nodes" not in " ".join(args)
    assert "trained" in (tmp_path / "exp/train.log").read_text()


def test_slurm_multi_node_and_job_name(tmp_path, fake_slurm):
    # What espnet2.bin.launch passes to a launcher named slurm.pl for multi-node training.
    env, state = fake_slurm
    res = run(
        [
            tmp_path / "slurm.pl",
            "--config",
            "slurm.conf",
            "--name",
            "asr_train",
            "--gpu",
            "1",
            "--num_threads",
            "1",
            "--num_nodes",
            "2",
            "exp/train.log",
            "echo",
            "srun-would-run-here",
        ],
        tmp_path,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    args = (state / "sbatch.calls").read_text().split()
    for flag in ("--job-name=asr_train", "--nodes=2", "--ntasks-per-node=1", "--gres=gpu:1"):
        assert flag in args


def test_slurm_propagates_exit_codes(tmp_path, fake_slurm):
    env, _ = fake_slurm
    res = run(
        [
            SLURM,
            "--config",
            "slurm.conf",
            "JOB=1:3",
            "exp/log/t.JOB.log",
            "echo tried-JOB; exit $(( JOB == 3 ? 5 : 0 ))",
        ],
        tmp_path,
        env=env,
    )
    assert res.returncode == 1
    assert "1 of 3 job(s) failed" in res.stderr
    assert "exp/log/t.3.log (exit code 5)" in res.stderr
    assert "tried-3" in res.stderr


def test_slurm_job_killed_without_exit_code_fails(tmp_path, fake_slurm):
    env, _ = fake_slurm
    env["FAKE_SLURM_KILL"] = "2"
    # A log left by an earlier run must not pass for this one.
    write(tmp_path / "exp/log/k.2.log", "# Finished: ..., exit code 0\n")
    res = run([SLURM, "--config", "slurm.conf", "JOB=1:2", "exp/log/k.JOB.log", "true"], tmp_path, env=env)
    assert res.returncode == 1
    assert "1 of 2 job(s) failed" in res.stderr
    assert "never started" in res.stderr and "k.2.log" in res.stderr


def test_slurm_reports_sbatch_failure(tmp_path, fake_slurm):
    env, _ = fake_slurm
    env["FAKE_SBATCH_FAIL"] = "1"
    res = run([SLURM, "--config", "slurm.conf", "x.log", "true"], tmp_path, env=env)
    assert res.returncode == 1
    assert "sbatch failed" in res.stderr and "invalid partition" in res.stderr


def test_slurm_config_errors_name_the_key(tmp_path, fake_slurm):
    env, _ = fake_slurm
    write(tmp_path / "bad.conf", "gpu_flag = --gres=gpu:{gpu}\n")
    res = run([SLURM, "--config", "bad.conf", "x.log", "true"], tmp_path, env=env)
    assert res.returncode == 2
    assert "bad.conf:1: unknown key 'gpu_flag'" in res.stderr


def test_example_stages_run_through_slurm_backend(recipe, fake_slurm):
    env, state = fake_slurm
    env["ESPNET_BRAIN_CMD_BACKEND"] = "slurm"
    shutil.copy(Path(env["FAKE_SLURM_DIR"]).parent / "slurm.conf", recipe / "conf" / "slurm.conf")
    res = run(["./example_stages.sh", "--nj", "2"], recipe, env=env)
    assert res.returncode == 0, res.stderr
    assert "--array=1-2" in (state / "sbatch.calls").read_text()
    assert "| 9 |" in (recipe / "exp/example/RESULTS.md").read_text()


# ----------------------------------------------------------------------------- make_recipe.sh


def test_make_recipe_links_and_copies(recipe, tmp_path):
    for name in ("path.sh", "db.sh", "utils"):
        link = recipe / name
        assert link.is_symlink() and os.readlink(link) == f"../../TEMPLATE/asr1/{name}"
    assert (recipe / "utils" / "parse_options.sh").is_file()
    for name in ("cmd.sh", "conf/slurm.conf", "run.sh"):
        assert (recipe / name).is_file() and not (recipe / name).is_symlink()
    assert "./brain_asr.sh" in (recipe / "run.sh").read_text()

    # Running it again refreshes links but keeps edited files.
    (recipe / "cmd.sh").write_text("cmd_backend=slurm\n")
    res = run([tmp_path / "egs2/TEMPLATE/asr1/setup.sh", "egs2/demo/asr1"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert (recipe / "cmd.sh").read_text() == "cmd_backend=slurm\n"


def test_make_recipe_rejects_wrong_depth(recipe, tmp_path):
    res = run([tmp_path / "egs2/TEMPLATE/utils/make_recipe.sh", "--template", "asr1", "egs2/too/deep/asr1"], tmp_path)
    assert res.returncode != 0
    assert "must be a directory <corpus>/<task>" in res.stderr
    assert not (tmp_path / "egs2/too/deep/asr1").exists()


def test_stage_scripts_call_programs_not_inline_python():
    """The stage scripts run programs (python3 -m espnet_brain.bin.<name> --option), not python3 -c snippets that
    import from programs (programs import nothing from each other; the shell has the same rule)."""
    for script in (TEMPLATE / "asr1" / "brain_asr.sh", TEMPLATE / "enc1" / "brain_enc.sh"):
        lines = [line for line in script.read_text().splitlines() if not line.lstrip().startswith("#")]
        assert not [line for line in lines if "python3 -c" in line or "python -c" in line], script
