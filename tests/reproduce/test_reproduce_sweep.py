"""scripts/reproduce.py on a two-run table (MLP, MLP -> MLP), for real: what a
user sees (one line per finished run, the two times), finished runs keyed by
their config (a changed binding is reported, --rerun_changed moves runs
aside), and the TensorBoard HParams view read back with TensorBoard's reader."""

import os
import re

import pytest

from tests.script_runner import run_script, run_script_in_process
from tf_kdbias import io_utils
from tf_kdbias.errors import UserError
from tf_kdbias import gin_utils
from tf_kdbias.training import hparams
from tf_kdbias.reproduce import plan
from tf_kdbias.reproduce import staleness

TINY_EXPERIMENT = "tests/tiny_experiment.gin"
# One epoch of 4 steps; the second run distils the first at T = 3.
SWEEP_BINDINGS = ("Experiment.setups = [('mlp', None), ('mlp', 'mlp')]",
                  "Experiment.eval_sets = ['mnist']",
                  "EPOCHS = 1", "MnistTask.train_size = 512", "Distiller.temperature = 3.0")


def reproduce_args(workdir, data_dir, bindings=SWEEP_BINDINGS):
    return ([f"--gin_file={TINY_EXPERIMENT}", f"--workdir={workdir}", f"--data_dir={data_dir}"]
            + [f"--gin_bindings={b}" for b in bindings])


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, data_dir):
    workdir = str(tmp_path_factory.mktemp("sweep"))
    done = run_script("reproduce.py", *reproduce_args(workdir, data_dir))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return workdir, done.stdout


def planned_runs(workdir, data_dir, bindings=SWEEP_BINDINGS):
    """The runs reproduce.py plans for these bindings, built in this process."""
    gin_utils.parse_gin([TINY_EXPERIMENT], list(bindings))
    experiment = plan.Experiment()
    return experiment, plan.plan_runs(experiment, workdir, data_dir,
                                      extra_bindings=list(bindings))


def test_each_finished_run_gets_one_summary_line(sweep):
    workdir, stdout = sweep
    lines = [line for line in stdout.splitlines() if ": done in " in line]
    assert len(lines) == 2
    # '[2/2] mlp_to_mlp seed 0: done in 9 s · mnist accuracy 0.1234 · 2/2 done, 30 s elapsed'
    for line, count in zip(lines, ("1/2", "2/2")):
        recorded = re.search(r"mnist accuracy (\d\.\d{4})", line)
        assert recorded and f"{count} done" in line and "elapsed" in line, line
    assert "left" in lines[0] and "left" not in lines[1]  # An estimate while runs remain.
    student = io_utils.read_json(os.path.join(workdir, "runs", "mlp_to_mlp", "seed_0",
                                              "metrics.json"))
    assert f"{student['eval']['mnist']['accuracy']:.4f}" in lines[1]
    # The runs' output went to their log.txt, not to the console.
    assert "Epoch 1/1" not in stdout
    assert os.path.exists(os.path.join(workdir, "runs", "mlp", "seed_0", "log.txt"))


def test_results_report_the_runs_time_and_the_invocations_separately(sweep):
    workdir, _ = sweep
    results = io_utils.read_json(os.path.join(workdir, "results.json"))
    own = [io_utils.read_json(os.path.join(workdir, "runs", name, "seed_0", "metrics.json"))
           ["wall_time_s"] for name in ("mlp", "mlp_to_mlp")]
    assert results["runs_time_s"] == pytest.approx(sum(own), abs=0.1)
    assert results["wall_time_s"] >= results["runs_time_s"]  # One run at a time, plus start-up.
    text = open(os.path.join(workdir, "results.md")).read()
    assert f"the runs took {results['runs_time_s']:.0f} s in total" in text
    assert f"this invocation took {results['wall_time_s']:.0f} s" in text


def test_a_finished_run_is_keyed_by_its_config(sweep, data_dir):
    """Today's plan matches what the scripts recorded (the in-process parse
    gives the scripts' config.gin); a changed binding makes the runs stale."""
    workdir, _ = sweep
    _, runs = planned_runs(workdir, data_dir)
    assert staleness.find_stale_runs(runs) == []
    _, changed = planned_runs(workdir, data_dir, SWEEP_BINDINGS[:-1] + ("Distiller.temperature = 5.0",))
    stale = staleness.find_stale_runs(changed)
    assert [os.path.relpath(s.run.run_dir, workdir) for s in stale] == [
        os.path.join("runs", "mlp", "seed_0"), os.path.join("runs", "mlp_to_mlp", "seed_0")]
    for entry in stale:
        assert "'Distiller.temperature = 3.0'" in entry.reason
        assert "'Distiller.temperature = 5.0'" in entry.reason
    with pytest.raises(UserError,
                       match=r"(?s)runs/mlp/seed_0.*runs/mlp_to_mlp/seed_0.*--rerun_changed"):
        staleness.check_finished_runs(changed, workdir)


def test_a_changed_binding_stops_reproduce_with_the_runs_named(sweep, data_dir):
    workdir, _ = sweep
    bindings = SWEEP_BINDINGS[:-1] + ("Distiller.temperature = 5.0",)
    done = run_script_in_process("reproduce.py", *reproduce_args(workdir, data_dir, bindings))
    assert done.returncode == 2, done.stderr[-3000:]
    assert "runs/mlp_to_mlp/seed_0" in done.stderr and "--rerun_changed" in done.stderr
    assert "Traceback" not in done.stderr
    assert ": done in " not in done.stdout  # Nothing ran.


def fake_finished_run(tmp_path, name, bindings, recorded=None, teacher=None):
    """A finished Run whose config.gin is `recorded` (default: what its command gives)."""
    run_dir = str(tmp_path / "runs" / name / "seed_0")
    command = ("python", "scripts/train.py", *[f"--gin_bindings={b}" for b in bindings])
    run = plan.Run(name, teacher, 0, run_dir,
                            str(tmp_path / "runs" / teacher / "seed_0") if teacher else None,
                            command)
    os.makedirs(run_dir)
    with open(os.path.join(run_dir, "config.gin"), "w") as f:
        f.write(staleness.command_config(command) if recorded is None else recorded)
    io_utils.write_json_atomic(os.path.join(run_dir, "metrics.json"), {"eval": {}})
    return run


def test_students_of_a_stale_teacher_are_stale_too(tmp_path):
    teacher = fake_finished_run(tmp_path, "mlp", ["EPOCHS = 2"], recorded="EPOCHS = 1\n")
    student = fake_finished_run(tmp_path, "mlp_to_mlp", ["EPOCHS = 2"], teacher="mlp")
    alone = fake_finished_run(tmp_path, "cnn", ["EPOCHS = 2"])
    stale = staleness.find_stale_runs([teacher, alone, student])
    assert [(s.run.student, s.reason) for s in stale] == [
        ("mlp", "it was made with 'EPOCHS = 1' but the plan now says 'EPOCHS = 2'"),
        ("mlp_to_mlp", "its teacher run is stale and will be redone")]


def test_rerun_changed_moves_stale_runs_aside(tmp_path):
    """Moved (not deleted) out of runs/, so the table and analyses no longer see them."""
    run = plan.Run("mlp", None, 0, str(tmp_path / "runs" / "mlp" / "seed_0"), None,
                            ("python", "scripts/train.py", "--gin_bindings=EPOCHS = 2"))
    os.makedirs(run.run_dir)
    with open(os.path.join(run.run_dir, "config.gin"), "w") as f:
        f.write("EPOCHS = 1\n")
    io_utils.write_json_atomic(os.path.join(run.run_dir, "metrics.json"), {"eval": {}})
    tensorboard = os.path.join(run.run_dir, "tensorboard")
    os.makedirs(os.path.join(tensorboard, "train"))
    for name in ("events.out.tfevents.1.host.2.0.hparams", os.path.join("train", "events.v2")):
        open(os.path.join(tensorboard, name), "w").close()
    said = []
    moved = staleness.check_finished_runs([run], str(tmp_path), rerun_changed=True, log=said.append)
    assert not run.finished and not os.path.exists(run.run_dir)
    (target,) = moved
    assert target.startswith(str(tmp_path / "stale_runs" / "mlp" / "seed_0."))
    assert open(os.path.join(target, "config.gin")).read() == "EPOCHS = 1\n"
    assert "EPOCHS = 1" in said[0] and "EPOCHS = 2" in said[0] and target in said[0]
    # Its curves stay; its HParams session goes (the same name as the rerun's row).
    assert os.listdir(os.path.join(target, "tensorboard")) == ["train"]


def read_tensorboard(logdir):
    """Runs, hparams plugin data and scalars, via TensorBoard's own event reader."""
    from tensorboard.backend.event_processing import plugin_event_multiplexer
    from tensorboard.plugins.hparams import metadata
    from tensorboard.util import tensor_util

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    content = multiplexer.PluginRunToTagToContent(metadata.PLUGIN_NAME)
    experiments = [metadata.parse_experiment_plugin_data(tags[metadata.EXPERIMENT_TAG])
                   for tags in content.values() if metadata.EXPERIMENT_TAG in tags]
    sessions = {run: metadata.parse_session_start_info_plugin_data(
        tags[metadata.SESSION_START_INFO_TAG])
        for run, tags in content.items() if metadata.SESSION_START_INFO_TAG in tags}

    def scalar(run, tag):
        (event,) = multiplexer.Tensors(run, tag)
        return event.step, float(tensor_util.make_ndarray(event.tensor_proto))

    return experiments, sessions, scalar


def dashboard_rows(logdir):
    """The HParams dashboard's table, from TensorBoard's own hparams backend
    (what `tensorboard --logdir` serves): {row name: (hparams, metrics)}."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    tb_context = base_plugin.TBContext(
        logdir=logdir, multiplexer=multiplexer,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, logdir))
    statuses = [api_pb2.STATUS_UNKNOWN, api_pb2.STATUS_SUCCESS, api_pb2.STATUS_FAILURE,
                api_pb2.STATUS_RUNNING]
    request = api_pb2.ListSessionGroupsRequest(start_index=0, slice_size=100,
                                               allowed_statuses=statuses)
    response = list_session_groups.Handler(context.RequestContext(),
                                           backend_context.Context(tb_context), "",
                                           request).run()
    return {group.name: ({k: getattr(v, v.WhichOneof("kind")) for k, v in group.hparams.items()},
                         {m.name.tag: m.value for m in group.metric_values})
            for group in response.session_groups}


def test_tensorboard_shows_an_hparams_row_per_run_with_final_metrics(sweep):
    workdir, _ = sweep
    experiments, sessions, scalar = read_tensorboard(workdir)
    (experiment,) = experiments
    columns = {(m.name.group, m.name.tag) for m in experiment.metric_infos}
    assert {("eval", "mnist/accuracy"), ("eval", "mnist/ece")} <= columns
    assert [h.name for h in experiment.hparam_infos] == list(hparams.HPARAM_NAMES)
    rows = {}
    for run, session in sessions.items():
        values = {name: value.WhichOneof("kind") and getattr(value, value.WhichOneof("kind"))
                  for name, value in session.hparams.items()}
        rows[run] = values
    student_run = os.path.join("runs", "mlp_to_mlp", "seed_0", "tensorboard")
    teacher_run = os.path.join("runs", "mlp", "seed_0", "tensorboard")
    assert set(rows) == {student_run, teacher_run}
    assert rows[student_run] == {"student": "mlp", "teacher": "mlp", "seed": 0.0,
                                 "temperature": 3.0, "distill_rate": 1.0, "recipe": "tiny"}
    assert rows[teacher_run]["teacher"] == "none" and "temperature" not in rows[teacher_run]
    # The metric cells: final scalars in the session's eval/ folder, as in metrics.json.
    for run_name in ("mlp", "mlp_to_mlp"):
        metrics = io_utils.read_json(os.path.join(workdir, "runs", run_name, "seed_0",
                                                  "metrics.json"))
        session_dir = os.path.join("runs", run_name, "seed_0", "tensorboard")
        for metric in ("accuracy", "ece"):
            step, value = scalar(os.path.join(session_dir, "eval"), f"mnist/{metric}")
            assert step == metrics["epochs"]
            assert value == pytest.approx(metrics["eval"]["mnist"][metric], rel=1e-6)
    # The dashboard itself: one row per run, its final metrics as columns.
    table = dashboard_rows(workdir)
    assert set(table) == {"mlp/seed_0", "mlp_to_mlp/seed_0"}
    student = io_utils.read_json(os.path.join(workdir, "runs", "mlp_to_mlp", "seed_0",
                                              "metrics.json"))
    hparams_row, metric_cells = table["mlp_to_mlp/seed_0"]
    assert hparams_row["temperature"] == 3.0 and hparams_row["teacher"] == "mlp"
    assert metric_cells["mnist/accuracy"] == pytest.approx(student["eval"]["mnist"]["accuracy"],
                                                           rel=1e-6)
    assert student["distillation"] == {"temperature": 3.0, "distill_rate": 1.0, "kd_loss": "kl",
                                       "teacher_training": False, "online": False}


def test_rewriting_the_view_does_not_duplicate_it(sweep, data_dir):
    workdir, _ = sweep
    experiment, runs = planned_runs(workdir, data_dir)
    hparams.write_hparams_view(workdir, experiment, runs)
    hparams.write_hparams_view(workdir, experiment, runs)
    for folder in (os.path.join(workdir, hparams.HPARAMS_DIR),
                   os.path.join(workdir, "runs", "mlp", "seed_0", "tensorboard")):
        assert len([f for f in os.listdir(folder) if f.endswith(hparams.SESSION_SUFFIX)]) == 1
    _, sessions, _ = read_tensorboard(workdir)
    assert len(sessions) == 2



def test_hparams_view_of_hand_written_runs(tmp_path):
    """Without training: two finished runs' metrics.json -> the table, read back."""
    runs = []
    for name, teacher, accuracy, distillation in (
            ("cnn", None, 0.75, None),
            ("cnn_to_mlp", "cnn", 0.5, {"temperature": 4.0, "distill_rate": 0.5})):
        student = name.split("_to_")[-1]
        run = plan.Run(student, teacher, 1, str(tmp_path / "runs" / name / "seed_1"),
                                None, ("python",))
        io_utils.write_json_atomic(os.path.join(run.run_dir, "metrics.json"), {
            "epochs": 7, "distillation": distillation,
            "eval": {"mnist": {"accuracy": accuracy, "ece": 0.125, "nll": None}}})
        runs.append(run)
    experiment = plan.Experiment(name="hand", model_gin_files={}, setups=[],
                                          recipe="modern")
    hparams.write_hparams_view(str(tmp_path), experiment, runs)
    experiments, sessions, scalar = read_tensorboard(str(tmp_path))
    (config,) = experiments
    assert {m.name.tag for m in config.metric_infos} == {"mnist/accuracy", "mnist/ece"}
    student = os.path.join("runs", "cnn_to_mlp", "seed_1", "tensorboard")
    values = {k: getattr(v, v.WhichOneof("kind")) for k, v in sessions[student].hparams.items()}
    assert values == {"student": "mlp", "teacher": "cnn", "seed": 1.0, "temperature": 4.0,
                      "distill_rate": 0.5, "recipe": "modern"}
    # Final metrics backfilled from metrics.json for runs that had none as scalars.
    assert scalar(os.path.join(student, "eval"), "mnist/accuracy") == (7, 0.5)
    assert scalar(os.path.join("runs", "cnn", "seed_1", "tensorboard", "eval"),
                  "mnist/accuracy") == (7, 0.75)


def test_progress_bar_over_runs_with_elapsed_time_and_estimate(tmp_path):
    """On a terminal: one bar over the runs; each finished run adds a line
    with where the table stands (here as if a minute had passed per run)."""
    import io

    from tf_kdbias.reproduce import progress

    io_utils.write_json_atomic(str(tmp_path / "metrics.json"),
                               {"eval": {"mnist": {"accuracy": 0.5, "ece": 0.1}}})
    stream = io.StringIO()
    bar = progress.RunProgress(3, stream=stream, show_bar=True)
    bar.start -= 60.0
    bar.finished("[1/3] mlp seed 0", [str(tmp_path)], 60.0)
    bar.close()
    text = stream.getvalue()
    assert "[1/3] mlp seed 0: done in 60 s · mnist accuracy 0.5000 · 1/3 done, 1 min 0 s " \
           "elapsed, ~2 min 0 s left" in text
    assert re.search(r"1/3 runs \[[\d:]+ elapsed, ~[\d:?]+ left\]", text), text  # The bar.
