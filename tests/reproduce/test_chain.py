"""A tiny table trained as a chain of slots (scripts/chain.py) equals the table trained
in one go; a damaged or missing state is refused with one line.

The chain: slot 1 trains stage 1 (the teachers) in folder A and packs its state;
A is deleted; slot 2 restores the state into a fresh folder B and trains stage 2,
cut by its budget after the student's first epoch; slot 3 restores that state into
a fresh folder C and finishes. Nothing passes between the slots but the state file
(and the data). The final runs must equal `scripts/reproduce.py`'s one-shot runs
of the same plan (same seeds) to EQUAL_TOLERANCE: on a CPU with op determinism a
resumed run computes the same numbers, so in practice they are identical.
"""

import os
import shutil
import tarfile

import pytest

from tests.conftest import REPO_ROOT
from tests.script_runner import run_script
from tf_kdbias import io_utils, rundir
from tf_kdbias.errors import UserError
from tf_kdbias.reproduce import chain, chain_state

TABLE = "tests/tiny_experiment.gin"  # cnn, mlp alone; cnn -> mlp. Two epochs each.
BINDINGS = ("Experiment.eval_sets = ['mnist']",)
PAUSE_HOOK = os.path.join(REPO_ROOT, "tests", "chain_pause")
EQUAL_TOLERANCE = 1e-6
SETUPS = ("cnn", "mlp", "cnn_to_mlp")


def chain_script(action, workdir, *extra, env=None, bindings=BINDINGS):
    args = [f"--action={action}", f"--gin_file={TABLE}", f"--workdir={workdir}",
            *[f"--gin_bindings={b}" for b in bindings], *extra]
    done = run_script("chain.py", *args, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def restore(state_dir, workdir):
    done = run_script("chain.py", "--action=restore", f"--workdir={workdir}",
                      f"--state={os.path.join(state_dir, chain_state.STATE_NAME)}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def carry(out_dir, to_dir):
    """Only the state travels: copied out, the slot's folders left behind."""
    os.makedirs(to_dir)
    for name in os.listdir(out_dir):
        if name.startswith(chain_state.STATE_NAME):
            shutil.copy(os.path.join(out_dir, name), to_dir)
    return to_dir


@pytest.fixture(scope="module")
def chained(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("chain")
    data = f"--data_dir={data_dir}"
    a, b, c = (str(root / name) for name in ("slot1", "slot2", "slot3"))
    logs = [chain_script("run", a, data, f"--out={root / 'out1'}", "--until_stage=1")]
    state1 = carry(root / "out1", str(root / "state1"))
    shutil.rmtree(a)
    restore(state1, b)
    # The student holds after its epoch-1 backup; the epoch budget (1) cuts it there.
    pause = {"PYTHONPATH": os.pathsep.join([PAUSE_HOOK, os.environ.get("PYTHONPATH", "")]),
             "CHAIN_PAUSE_RUN": "cnn_to_mlp", "CHAIN_PAUSE_EPOCH": "1"}
    logs.append(chain_script("run", b, data, f"--out={root / 'out2'}", "--epoch_budget=1",
                             env=pause))
    cut = rundir.run_dir_in(b, "cnn_to_mlp", 0)
    cut_state = {"finished": rundir.is_finished(cut), "interrupted": rundir.is_interrupted(cut)}
    state2 = carry(root / "out2", str(root / "state2"))
    shutil.rmtree(b)
    restore(state2, c)
    logs.append(chain_script("run", c, data, f"--out={root / 'out3'}"))
    one_shot = str(root / "one_shot")
    done = run_script("reproduce.py", f"--gin_file={TABLE}", f"--workdir={one_shot}", data,
                      *[f"--gin_bindings={b}" for b in BINDINGS])
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return {"final": c, "one_shot": one_shot, "logs": logs, "cut": cut_state, "root": root}


def _close(x, y, path="") -> None:
    if isinstance(x, dict):
        assert sorted(x) == sorted(y), path
        for key in x:
            _close(x[key], y[key], f"{path}/{key}")
    elif isinstance(x, list):
        assert len(x) == len(y), path
        for i, (u, v) in enumerate(zip(x, y)):
            _close(u, v, f"{path}[{i}]")
    elif isinstance(x, float) and isinstance(y, float):
        assert abs(x - y) <= EQUAL_TOLERANCE, f"{path}: {x} vs {y}"
    else:
        assert x == y, f"{path}: {x!r} vs {y!r}"


def test_chained_table_equals_the_one_shot_table(chained):
    for setup in SETUPS:
        ours = rundir.read_metrics(rundir.run_dir_in(chained["final"], setup, 0))
        theirs = rundir.read_metrics(rundir.run_dir_in(chained["one_shot"], setup, 0))
        assert ours and theirs, setup
        for field in ("eval", "history", "seed", "epochs"):
            _close(ours[field], theirs[field], f"{setup}.{field}")
    results = io_utils.read_json(os.path.join(chained["final"], "results.json"))
    assert results["runs_finished"] == results["runs_planned"] == 3
    assert "PARTIAL" not in io_utils.read_text(os.path.join(chained["final"], "results.md"))


def test_the_student_was_cut_mid_run_and_resumed_across_the_boundary(chained):
    assert chained["cut"] == {"finished": False, "interrupted": True}
    student = rundir.read_metrics(rundir.run_dir_in(chained["final"], "cnn_to_mlp", 0))
    assert student["resumed_from_epochs"] == [1]
    assert "budget reached" in chained["logs"][1]
    # Slot 2 said PARTIAL; the teacher was trained once, in slot 1, never again.
    partial = io_utils.read_text(os.path.join(chained["root"], "out2", "results.md"))
    assert "PARTIAL" in partial and "2 of 3 runs" in partial
    assert "stage 1 (teachers) starts" not in chained["logs"][1] + chained["logs"][2]


def test_the_state_holds_what_the_next_slot_needs_and_nothing_else(chained):
    with tarfile.open(os.path.join(chained["root"], "state2", chain_state.STATE_NAME)) as tar:
        names = set(tar.getnames())
    assert "runs/cnn/seed_0/model.keras" in names  # The teacher.
    assert "runs/mlp/seed_0/model.keras" not in names  # Finished, teaches nobody.
    assert {"runs/cnn_to_mlp/seed_0/backup/epoch_0001/trainer.weights.h5",
            "runs/cnn_to_mlp/seed_0/backup/epoch_0001/state.json"} <= names
    assert not any("tensorboard" in n or "trajectory" in n or "logit_cache" in n for n in names)
    assert {"chain/plan.json", "chain/slots.json", "runs/mlp/seed_0/metrics.json",
            chain_state.MANIFEST} <= names
    # The teacher's optimizer state was dropped before its student started.
    assert "runs/cnn/seed_0" in io_utils.read_json(
        os.path.join(chained["final"], "chain", chain_state.COMPACTED_FILE))


def test_a_missing_or_truncated_state_is_refused_with_one_line(tmp_path, chained):
    missing = run_script("chain.py", "--action=restore", f"--workdir={tmp_path / 'w1'}",
                         f"--state={tmp_path / 'nowhere' / 'state.tgz'}")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "No chain state" in missing.stderr
    truncated = tmp_path / chain_state.STATE_NAME
    data = open(os.path.join(chained["root"], "state2", chain_state.STATE_NAME), "rb").read()
    truncated.write_bytes(data[:len(data) // 2])
    done = run_script("chain.py", "--action=restore", f"--workdir={tmp_path / 'w2'}",
                      f"--state={truncated}")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().count("\n") == 0 and "damaged" in done.stderr
    assert not os.path.exists(tmp_path / "w2") or not os.listdir(tmp_path / "w2")


def _rewrite(source, target, change):
    """A copy of the state tar with `change(name, data) -> data or None (dropped)`."""
    import io
    with tarfile.open(source) as tar_in, tarfile.open(target, "w:gz") as tar_out:
        for member in tar_in:
            data = change(member.name, tar_in.extractfile(member).read())
            if data is not None:
                member.size = len(data)
                tar_out.addfile(member, io.BytesIO(data))


@pytest.mark.parametrize("change, message", [
    (lambda name, data: data + b"x" if name.endswith("trainer.weights.h5") else data,
     "does not match its sha256"),
    (lambda name, data: None if name.endswith("state.json") else data, "missing"),
])
def test_an_altered_state_is_refused_and_restores_nothing(tmp_path, chained, change, message):
    altered = str(tmp_path / chain_state.STATE_NAME)
    _rewrite(os.path.join(chained["root"], "state2", chain_state.STATE_NAME), altered, change)
    with pytest.raises(UserError, match=message):
        chain_state.restore_state(altered, str(tmp_path / "w"))
    assert not os.path.exists(tmp_path / "w")


def test_a_large_state_travels_in_parts(tmp_path, chained):
    source = os.path.join(chained["root"], "state2", chain_state.STATE_NAME)
    target = str(tmp_path / chain_state.STATE_NAME)
    chain_state._place_parts(shutil.copy(source, str(tmp_path / "whole")), target, 1000)
    assert chain_state.state_paths(target)[1].endswith(".001")
    manifest = chain_state.restore_state(target, str(tmp_path / "w"))
    assert manifest["runs_finished"] == 2
    os.remove(target + ".001")
    with pytest.raises(UserError, match="misses a part|damaged"):
        chain_state.restore_state(target, str(tmp_path / "w2"))
