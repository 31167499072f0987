"""`mobagent demo`."""

from scenarios.demo.run import main

__all__ = ["main"]
