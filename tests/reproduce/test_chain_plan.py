"""The chain's stage plan (reproduce/chain.py) and the state size it would carry for the
paper's models (chain_speed.state_size_estimate); no training."""

import pytest

from tf_kdbias.reproduce import chain, chain_run, chain_speed

PAPER = "gin_configs/mnist_c/paper.gin"


@pytest.fixture(scope="module")
def paper_runs(tmp_path_factory):
    _, runs = chain_run.load_plan([PAPER], [], str(tmp_path_factory.mktemp("paper")), None)
    return runs


def test_stage_1_trains_the_teachers_then_students_by_teacher_kind(paper_runs):
    stages = chain.make_stages(paper_runs)
    assert [(s.number, s.name, s.setups) for s in stages] == [
        (1, "teachers", ("cnn", "mlp")),
        (2, "students of cnn", ("cnn_to_mlp", "cnn_to_cnn")),
        (3, "students of mlp", ("mlp_to_mlp", "mlp_to_cnn"))]
    assert [len(s.runs(paper_runs)) for s in stages] == [8, 8, 8]
    # Every student's teacher is trained in an earlier stage.
    stage_of = {run.run_dir: s.number for s in stages for run in s.runs(paper_runs)}
    assert all(stage_of[r.teacher_dir] < stage_of[r.run_dir] for r in paper_runs if r.teacher)
    assert chain.next_stage(stages, paper_runs).number == 1


def test_unmeasured_setups_are_costed_on_the_line_through_the_measured_ones():
    speed = {"measured": {"mlp": {"steps_per_s": 100.0}, "cnn_to_cnn": {"steps_per_s": 10.0}},
             "flops_per_example": {"mlp": 1.0, "cnn_to_cnn": 11.0, "cnn_to_mlp": 6.0,
                                   "tiny": 0.5}}
    assert chain.seconds_per_step(speed, "mlp") == pytest.approx(0.01)
    assert chain.seconds_per_step(speed, "cnn_to_mlp") == pytest.approx(0.055)
    assert chain.seconds_per_step(speed, "tiny") == pytest.approx(0.01)  # Never below the fastest.
    assert chain.seconds_per_step(None, "mlp") is None


def test_stages_are_split_over_slots_in_order():
    costs = [{"stage": k, "seconds": s} for k, s in ((1, 100.0), (2, 250.0), (3, 50.0))]
    slots = chain.plan_slots(costs, slot_s=100.0, first_slot_s=40.0)
    assert [[(p["stage"], round(p["from"], 2), round(p["to"], 2)) for p in slot]
            for slot in slots] == [
        [(1, 0.0, 0.4)], [(1, 0.4, 1.0), (2, 0.0, 0.16)], [(2, 0.16, 0.56)],
        [(2, 0.56, 0.96)], [(2, 0.96, 1.0), (3, 0.0, 1.0)]]
    assert chain.plan_slots([{"stage": 1, "seconds": None}], 100.0, 100.0) == []


def test_the_paper_state_stays_under_60_mib(paper_runs):
    sizes = chain_speed.state_size_estimate(paper_runs, chain.make_stages(paper_runs))
    assert sizes.pop("params") == {"cnn": 113002, "mlp": 474730}
    # Stage 3's worst point: 8 teachers' weights, 16 finished runs, 8 MLP/CNN students in flight.
    assert max(entry["worst_bytes"] for entry in sizes.values()) < 60 * 2 ** 20
    assert sizes["end"]["worst_bytes"] < 16 * 2 ** 20
