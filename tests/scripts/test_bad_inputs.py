"""The catalogue of bad inputs: each is an expected error with a message that
names the problem and the fix, exit status 2, no traceback, and no partial
metrics.json or results.json.

A few cases run the scripts as a user would (a subprocess each, ~8 s of
TensorFlow import); the rest go through the same error path in-process
(`cli.run_main`, which the scripts wrap their work in).
"""

import gzip
import os

import pytest

from tests.data.mnist_files import copy_of_mnist, rewrite_gz
from tests.data.sva import linzen_fixture
from tests.fake_runs import save_finished_run
from tests.script_runner import gin_args, run_script
from tests.tiny_runs import MLP_GIN, TINY_RUN_BINDINGS, run_in_process
from tf_kdbias import cli
from tf_kdbias.training import export as export_lib

RESULT_FILES = ("metrics.json", "results.json")


def assert_no_result_files(folder):
    """Neither a result file nor a temp file of one anywhere under `folder`."""
    for _, _, files in os.walk(folder):
        assert not [f for f in files if any(r in f for r in RESULT_FILES)], files


def assert_script_failed(done, folder, *fragments):
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    for fragment in fragments:
        assert fragment in done.stderr, done.stderr[-3000:]
    assert_no_result_files(folder)


def assert_fails_in_process(capsys, folder, work, *fragments):
    """`work()` run as a script runs it: exit 2 with `fragments` on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run_main(work)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    assert_no_result_files(folder)


def save_teacher(folder, num_classes=10):
    """A finished run folder whose model.keras is a (tiny, untrained) MLP."""
    from tf_kdbias.models.mlp import build_mlp

    return save_finished_run(folder, build_mlp(hidden_units=(8,), num_classes=num_classes))


# --- From the command line -------------------------------------------------

def test_cli_idx_file_with_a_wrong_magic_number(tmp_path, data_dir):
    root = copy_of_mnist(data_dir, tmp_path)
    rewrite_gz(root / "mnist" / "train-labels-idx1-ubyte.gz",
               lambda raw: b"\x00\x00\x08\x03" + raw[4:])
    done = run_script("train.py", *gin_args(MLP_GIN, TINY_RUN_BINDINGS),
                      f"--workdir={tmp_path / 'run'}", f"--data_dir={root}")
    assert_script_failed(done, tmp_path, "train-labels-idx1-ubyte.gz", "magic number 2051",
                         "replace it")


def test_cli_nan_loss_stops_at_once_and_says_where(tmp_path, data_dir):
    done = run_script("train.py",
                      *gin_args(MLP_GIN, TINY_RUN_BINDINGS + ("make_optimizer.learning_rate = 1e38",)),
                      f"--workdir={tmp_path / 'run'}", f"--data_dir={data_dir}")
    assert_script_failed(done, tmp_path, "loss became nan at step", "Lower the learning rate")
    assert "Epoch 2/3" not in done.stdout


def test_cli_reproduce_with_an_unknown_eval_set_writes_no_results(tmp_path, data_dir):
    done = run_script("reproduce.py", "--gin_file=gin_configs/mnist_c/quick.gin",
                      "--gin_bindings=Experiment.eval_sets = ['mnist', 'mnist_c/blurry']",
                      f"--workdir={tmp_path / 'table'}", f"--data_dir={data_dir}")
    assert_script_failed(done, tmp_path, "Unknown eval set 'mnist_c/blurry'", "translate")


def test_cli_malformed_linzen_rows(tmp_path):
    folder = tmp_path / "data" / "sva" / "linzen2016"
    folder.mkdir(parents=True)
    with gzip.open(folder / "agr_50_mostcommon_10K.tsv.gz", "wt") as f:
        f.write(linzen_fixture.fixture_text(copies=1))  # 5 bad rows of 17.
    done = run_script("train.py", "--gin_file=gin_configs/sva/lstm.gin",
                      "--gin_file=gin_configs/sva/source_linzen.gin",
                      "--gin_bindings=LinzenSource.download = False",
                      "--gin_bindings=run_training.eval_sets = ['sva/test']",
                      f"--workdir={tmp_path / 'run'}", f"--data_dir={tmp_path / 'data'}")
    assert_script_failed(done, tmp_path, "rows are malformed", "line ", "fix those lines")


# --- The same error path, in-process ---------------------------------------

def test_unknown_gin_file(tmp_path, data_dir, capsys):
    run = lambda: run_in_process(tmp_path / "run", data_dir, gin_file="gin_configs/mnist_c/mpl.gin")
    assert_fails_in_process(capsys, tmp_path, run, "mpl.gin", "not found",
                            "configs live under gin_configs/")


@pytest.mark.parametrize("binding,fragment", [
    ("build_mlp.hiden_units = (3,)", "hiden_units"),
    ("build_mlpp.hidden_units = (3,)", "No configurable matching 'build_mlpp'"),
])
def test_unknown_gin_binding_or_configurable(tmp_path, data_dir, capsys, binding, fragment):
    run = lambda: run_in_process(tmp_path / "run", data_dir, TINY_RUN_BINDINGS + (binding,))
    assert_fails_in_process(capsys, tmp_path, run, fragment, "Fix the binding")


@pytest.mark.parametrize("binding,fragment", [
    ("run_training.teacher_cache_top_k = 0", "teacher_cache_top_k=0"),
    ("run_training.teacher_cache_dtype = 'float64'", "teacher_cache_dtype='float64'"),
])
def test_bad_teacher_cache_format(tmp_path, data_dir, capsys, binding, fragment):
    run = lambda: run_in_process(tmp_path / "run", data_dir, TINY_RUN_BINDINGS + (binding,))
    assert_fails_in_process(capsys, tmp_path, run, fragment)


def test_data_dir_missing(tmp_path, capsys):
    run = lambda: run_in_process(tmp_path / "run", str(tmp_path / "nowhere"))
    assert_fails_in_process(capsys, tmp_path, run, "nowhere", "does not exist", "--data_dir")


def test_data_dir_lacking_a_file(tmp_path, data_dir, capsys):
    root = copy_of_mnist(data_dir, tmp_path)
    os.remove(root / "mnist" / "train-images-idx3-ubyte.gz")
    run = lambda: run_in_process(tmp_path / "run", str(root))
    assert_fails_in_process(capsys, tmp_path, run, "train-images-idx3-ubyte.gz", "is missing",
                            "Put the four MNIST IDX files")


def test_truncated_idx_file(tmp_path, data_dir, capsys):
    root = copy_of_mnist(data_dir, tmp_path)
    rewrite_gz(root / "mnist" / "train-labels-idx1-ubyte.gz", lambda raw: raw[:-100])
    run = lambda: run_in_process(tmp_path / "run", str(root))
    assert_fails_in_process(capsys, tmp_path, run, "train-labels-idx1-ubyte.gz", "truncated",
                            "replace it")


def test_workdir_that_cannot_be_written(tmp_path, data_dir, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")  # Even root cannot create a folder inside a file.
    run = lambda: run_in_process(blocker / "run", data_dir)
    assert_fails_in_process(capsys, tmp_path, run, "Cannot write to the run directory",
                            "choose a --workdir you can write to")


def test_teacher_run_without_checkpoint(tmp_path, data_dir, capsys):
    run = lambda: run_in_process(tmp_path / "student", data_dir,
                                 teacher_dir=str(tmp_path / "never_trained"))
    assert_fails_in_process(capsys, tmp_path, run, "has no model.keras", "Train it first")


def test_teacher_run_killed_during_evaluation(tmp_path, data_dir, capsys):
    """model.keras without metrics.json: the teacher never finished, so it does not teach."""
    teacher = save_teacher(tmp_path / "teacher")
    os.remove(os.path.join(teacher, "metrics.json"))
    run = lambda: run_in_process(tmp_path / "student", data_dir, teacher_dir=teacher)
    assert_fails_in_process(capsys, tmp_path / "student", run, "but no metrics.json",
                            "Rerun its command")


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_teacher_checkpoint(tmp_path, data_dir, capsys, damage):
    """A teacher's model.keras cut short (or overwritten) is named, with the fix, exit 2."""
    teacher = save_teacher(tmp_path / "teacher")
    path = os.path.join(teacher, "model.keras")
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2] if damage == "truncate" else b"not a zip" * 100)
    run = lambda: run_in_process(tmp_path / "student", data_dir, teacher_dir=teacher)
    assert_fails_in_process(capsys, tmp_path / "student", run, f"{path} is damaged",
                            "Retrain the run that wrote it")


def test_teacher_and_student_with_different_output_shapes(tmp_path, data_dir, capsys):
    teacher = save_teacher(tmp_path / "teacher", num_classes=5)
    run = lambda: run_in_process(tmp_path / "student", data_dir, teacher_dir=teacher)
    assert_fails_in_process(capsys, tmp_path / "student", run, "outputs shape (5,)",
                            "Pick a teacher trained on the same task")


@pytest.mark.parametrize("binding,fragment", [
    ("Distiller.temperature = 0.0", "temperature=0.0 is out of range (0.0, inf]"),
    ("Distiller.temperature = -2.0", "temperature=-2.0"),
    ("Distiller.distill_rate = 1.5", "distill_rate=1.5 is out of range [0.0, 1.0]"),
    ("Distiller.distill_rate = -0.1", "distill_rate=-0.1"),
])
def test_kd_hyperparameters_out_of_range(tmp_path, data_dir, capsys, binding, fragment):
    teacher = save_teacher(tmp_path / "teacher")
    run = lambda: run_in_process(tmp_path / "student", data_dir, TINY_RUN_BINDINGS + (binding,),
                                 teacher_dir=teacher)
    assert_fails_in_process(capsys, tmp_path / "student", run, fragment, "set a valid")


@pytest.mark.parametrize("eval_set", ["mnist_c/blurry", "cifar"])
def test_unknown_eval_set_or_corruption(tmp_path, data_dir, capsys, eval_set):
    binding = f"run_training.eval_sets = ['mnist', '{eval_set}']"
    run = lambda: run_in_process(tmp_path / "run", data_dir, TINY_RUN_BINDINGS + (binding,))
    assert_fails_in_process(capsys, tmp_path, run, f"Unknown eval set {eval_set!r}",
                            "mnist_c/<corruption>")


def test_unknown_corruption_name_when_generating(capsys, tmp_path, mnist_test):
    from tf_kdbias.data.mnist_c import generate_mnist_c

    work = lambda: generate_mnist_c(mnist_test, "blurry")
    assert_fails_in_process(capsys, tmp_path, work, "Unknown MNIST-C corruption 'blurry'",
                            "choose one of")


def test_export_of_a_run_without_checkpoint(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    work = lambda: export_lib.export_saved_model(str(tmp_path / "run"), str(tmp_path / "export"))
    assert_fails_in_process(capsys, tmp_path, work, "has no metrics.json", "did not finish")
    assert not os.path.exists(tmp_path / "export")
