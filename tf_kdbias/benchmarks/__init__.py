"""Speed benchmarks (scripts/benchmark.py): input pipeline, fit, engines."""
