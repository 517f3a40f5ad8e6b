"""Scripts start quietly: TensorFlow's C++ start-up lines are dropped, real
output on stderr is kept; a schedule out of range stops a script at its start."""

import os
import re
import subprocess
import sys

from tests.conftest import REPO_ROOT
from tests.script_runner import run_script_in_process
from tests.tiny_runs import MLP_GIN, TINY_RUN_BINDINGS
from tf_kdbias import quiet_start

# A C++ log line (I/W/E/F, date, time, thread, file:line]) or absl's pre-init notice.
CPP_LOG_LINE = re.compile(r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+:\d+\]|absl::InitializeLog")
STARTUP_TEXT = (
    "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
    "I0000 00:00:1795941440.822055    5134 port.cc:153] oneDNN custom operations are on. "
    "You may see slightly different numerical results.\n"
    "I0000 00:00:1795941440.822481    5134 cudart_stub.cc:31] Could not find cuda drivers on "
    "your machine, GPU will not be used.\n"
    "I0000 00:00:1795941440.862583    5134 cpu_feature_guard.cc:227] This TensorFlow binary is "
    "optimized to use available CPU instructions in performance-critical operations.\n"
    "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow "
    "with the appropriate compiler flags.\n"
    "E0000 00:00:1795941486.634050    5483 cuda_platform.cc:52] failed call to cuInit: "
    "INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n")


def without_log_level():
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def test_startup_lines_are_dropped_and_others_kept():
    real = "W0000 00:00:1.0  1 some_op.cc:7] a real warning\nUserWarning: keep me\n"
    assert quiet_start.drop_startup_lines(STARTUP_TEXT + real) == real


def test_cuinit_failure_is_kept_where_a_cuda_driver_exists():
    """Without "Could not find cuda drivers", a failing cuInit is news (a GPU
    machine with a broken driver) and must come through."""
    line = ("E0000 00:00:1.0  5 cuda_platform.cc:52] failed call to cuInit: "
            "CUDA_ERROR_NO_DEVICE\n")
    assert quiet_start.drop_startup_lines(line) == line


def test_filtered_stderr_holds_back_the_descriptor_and_writes_the_rest(capfd):
    with quiet_start.filtered_stderr():
        os.write(2, STARTUP_TEXT.encode())  # As C++ code writes: below Python.
        os.write(2, b"E0000 00:00:1.0  1 x.cc:1] a real error\n")
        print("python stderr line", file=sys.stderr)
    # (Under pytest, Python's own stderr is captured apart from descriptor 2.)
    assert sorted(capfd.readouterr().err.splitlines()) == [
        "E0000 00:00:1.0  1 x.cc:1] a real error", "python stderr line"]


def import_tensorflow(env):
    code = "import tf_kdbias, tensorflow as tf, sys; tf.constant(1.0) + 1; print('ok')"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_importing_tensorflow_through_the_package_is_quiet():
    done = import_tensorflow(without_log_level())
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    assert [line for line in done.stderr.splitlines() if CPP_LOG_LINE.search(line)] == []


def test_train_script_prints_no_tensorflow_startup_line(tmp_path, data_dir):
    """The 'done when' of issue 15: scripts/train.py on a CPU machine."""
    env = without_log_level()
    bindings = TINY_RUN_BINDINGS + ("EPOCHS = 1", "MnistTask.train_size = 256")
    args = [f"--gin_file={MLP_GIN}"] + [f"--gin_bindings={b}" for b in bindings]
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", "train.py"), *args,
                           f"--workdir={tmp_path / 'run'}", f"--data_dir={data_dir}"],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    startup = [line for line in (done.stdout + done.stderr).splitlines()
               if CPP_LOG_LINE.search(line)]
    assert startup == [], startup
    assert "| mnist |" in done.stdout  # The run's own output is there.


def test_a_schedule_out_of_range_stops_a_script_with_exit_2(tmp_path, data_dir):
    """An online run builds its Distiller in train.py: a linear temperature
    reaching 0 is refused there, before training."""
    bindings = TINY_RUN_BINDINGS + (
        "run_training.online_teacher_fn = @build_mlp",
        "Distiller.temperature = @make_schedule()", "make_schedule.kind = 'linear'",
        "make_schedule.initial_value = 4.0", "make_schedule.final_value = 0.0")
    done = run_script_in_process("train.py", f"--gin_file={MLP_GIN}",
                                 *[f"--gin_bindings={b}" for b in bindings],
                                 f"--workdir={tmp_path / 'run'}", f"--data_dir={data_dir}")
    assert done.returncode == 2, done.stderr[-3000:]
    assert "Distiller.temperature" in done.stderr and "every step" in done.stderr
    assert "Traceback" not in done.stderr and "Epoch 1/" not in done.stdout
    assert not os.path.exists(tmp_path / "run" / "metrics.json")
