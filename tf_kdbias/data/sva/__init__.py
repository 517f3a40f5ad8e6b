"""Subject-verb agreement (SVA) data: the Linzen et al. (2016) file, a
synthetic agreement grammar, the real test sets, vocabularies and encoders.

Every source ends up as lists of `AgreementExample`s (see `example.py`), so
the same encoders, models and metrics run on all of them.
"""
