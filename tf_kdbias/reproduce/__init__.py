"""A whole table of runs: plan, execute, tabulate beside the paper's numbers."""
