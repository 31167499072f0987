"""The stack in one process for tests and Gherkin steps: the simulated Finesse
(`finesse_lab`), the Generic Connector in front of it (`connector_lab`), and benchmarks run
as subprocesses (`processes`)."""
