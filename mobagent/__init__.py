"""mobagent: the one command-line entry point of the project."""
