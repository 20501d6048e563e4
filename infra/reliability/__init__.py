"""Reliability tooling shared by tests/reliability and the ``faults``/``load`` benchmarks: AWS fault
injection in front of moto, the in-process pipeline harness, and the personal-data log scanner."""
