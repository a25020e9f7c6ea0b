"""The jobs tier: training, whole runs shared by the command line and the app, the server's training queue
and its limits, the benchmark and its report."""
