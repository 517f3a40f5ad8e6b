"""The engine benchmark's report: device and peak, the table's projection, the summary.

From the rows: the projected wall time of the whole table (setups x seeds x
epochs x steps per epoch / steps per second, run one after another;
compilation, evaluation and backups not included) and its analytic FLOPs,
held against the device's peak (GPUs in flops.PEAK_TFLOPS). Needs only JAX.
"""

import os
import platform
from typing import Dict, List, Sequence

import keras

from tf_kdbias.benchmarks.engine_setups import (BUILDERS, SETUPS, EngineBenchmarkSettings,
                                                parse_setup)
from tf_kdbias.data import pipeline


def device_info() -> Dict:
    """The JAX device and software stack; the load average flags a busy host."""
    import jax

    device = jax.devices()[0]
    return {"platform": device.platform, "device_kind": device.device_kind,
            "devices": len(jax.devices()), "jax": jax.__version__, "keras": keras.__version__,
            "cores": os.cpu_count(), "python": platform.python_version(),
            "load_average_1m_at_start": round(os.getloadavg()[0], 2)}


def peak_for(info: Dict, mixed_precision: bool):
    """(precision name, peak TFLOP/s) of the device, or (name, None) off-GPU/unknown.

    float32 matmuls and convolutions run on tensor cores as TF32 under XLA's
    default precision on GPUs that have them, so that is their peak.
    """
    from tf_kdbias.training.fused import flops

    precision = "fp16" if mixed_precision else "tf32"
    peaks = flops.device_peak(info["device_kind"]) if info["platform"] == "gpu" else None
    return precision, (peaks or {}).get(precision)


def project_table(rows: Sequence[Dict], settings: EngineBenchmarkSettings) -> Dict[str, Dict]:
    """Per engine: projected seconds for the whole table, run back to back."""
    steps = pipeline.steps_per_epoch(settings.table_examples, settings.batch_size)
    projection = {}
    for engine_name in dict.fromkeys(r["engine"] for r in rows):
        mine = [r for r in rows if r["engine"] == engine_name]
        work = settings.table_seeds * settings.table_epochs * steps
        projection[engine_name] = {
            "seconds": sum(work / r["steps_per_s"] for r in mine),
            "cpu_seconds": (sum(work / r["steps_per_cpu_s"] for r in mine)
                            if all(r.get("steps_per_cpu_s") for r in mine) else None),
            "setups": [r["setup"] for r in mine], "complete": len(mine) == len(SETUPS)}
    return projection


def table_flops(settings: EngineBenchmarkSettings) -> Dict:
    """Analytic FLOPs of the whole table: every setup, seed, epoch and example.

    Counted for all six setups (building the models is cheap), whichever
    rows were timed.
    """
    from tf_kdbias.training.fused import flops

    per_example = {}
    for setup in SETUPS:
        student_name, teacher_name = parse_setup(setup)
        student = BUILDERS[student_name]()
        teacher = BUILDERS[teacher_name]() if teacher_name else None
        per_example[setup] = flops.training_flops_per_example(student, teacher)
    examples = settings.table_seeds * settings.table_epochs * settings.table_examples
    return {"per_example": per_example, "total_flop": examples * sum(per_example.values())}


# ---------------------------------------------------------------- printed summary


def _cell(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds < 3600 * 3 else f"{seconds / 3600:.1f} h"


def _row_lines(rows: Sequence[Dict]) -> List[str]:
    lines = ["| setup | engine | steps/s | examples/s | × standard | epoch wall / CPU (s) | "
             "steps per CPU-s (× standard) | FLOPs/example (analytic / XLA) | achieved TFLOP/s "
             "| of peak | backup (s/epoch) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        peak = ("n/a" if r["fraction_of_peak"] is None
                else f"{100 * r['fraction_of_peak']:.2f}% of {r['peak_precision']} "
                     f"{r['peak_tflops']:.0f}")
        xla = r["flops_per_example_xla"]
        engine_name = r["engine"] + (f" ({r['loop']})" if r.get("loop") else "")
        lines.append(
            f"| {r['setup']} | {engine_name} | {r['steps_per_s']:.1f} | "
            f"{r['examples_per_s']:.0f} | {_cell(r['ratio_to_standard'], '.2f')} | "
            f"{r['median_epoch_s']:.2f} / {r['median_epoch_cpu_s']:.2f} | "
            f"{_cell(r['steps_per_cpu_s'], '.1f')} ({_cell(r['cpu_ratio_to_standard'], '.2f')}) | "
            f"{r['flops_per_example_analytic'] / 1e6:.1f} M / "
            f"{_cell(None if xla is None else xla / 1e6, '.1f')} M | "
            f"{r['achieved_tflops']:.3f} | {peak} | {r['backup_s']:.3f} |")
    return lines


def _projection_lines(report: Dict) -> List[str]:
    s = report["settings"]
    lines = ["", f"Projected wall time of the table ({s['table_seeds']} seeds × "
                 f"{s['table_epochs']} epochs × {s['table_examples']} examples per setup, "
                 "runs back to back; compilation, evaluation and backups left out):"]
    for engine_name, p in report["projection"].items():
        scope = ("all 6 setups" if p["complete"]
                 else f"only {', '.join(p['setups'])} ({len(p['setups'])} of 6 setups)")
        cpu = "" if p.get("cpu_seconds") is None else (
            f"; at its CPU time per step, {_minutes(p['cpu_seconds'])}")
        lines.append(f"- {engine_name}: {_minutes(p['seconds'])}{cpu} ({scope})")
    return lines


def _flops_and_device_lines(report: Dict) -> List[str]:
    t = report["table_flops"]
    at_peak = ("" if t["peak_tflops"] is None else
               f"; at the device's {t['peak_precision']} peak ({t['peak_tflops']:.0f} TFLOP/s) "
               f"no engine can take less than {t['total_flop'] / t['peak_tflops'] / 1e12:.0f} s")
    lines = ["", f"The table's arithmetic (analytic, all 6 setups): "
                 f"{t['total_flop'] / 1e15:.1f} PFLOP{at_peak}. Per example: "
                 + ", ".join(f"{k} {v / 1e6:.1f} M" for k, v in t["per_example"].items()) + "."]
    m = report["machine"]
    lines += ["", f"Device: {m['device_kind']} ({m['platform']}), {m['cores']} cores, JAX "
                  f"{m['jax']}, Keras {m['keras']}; load average (1 min) at start/end "
                  f"{m['load_average_1m_at_start']} / {m['load_average_1m_at_end']}; "
                  f"{report['train_examples']} examples per timed epoch."]
    return lines


def format_engine_report(report: Dict) -> str:
    """The rows as a Markdown table, then the projected table wall times."""
    return "\n".join(_row_lines(report["rows"]) + _projection_lines(report)
                     + _flops_and_device_lines(report))
