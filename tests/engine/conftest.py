"""Fixtures for the engine tests: the Spark session lives in ``tests/conftest.py``."""
