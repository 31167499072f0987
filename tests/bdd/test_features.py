"""Every feature file of `features/`, bound to the step library (see conftest.py)."""

from pytest_bdd import scenarios

scenarios("../../features")
