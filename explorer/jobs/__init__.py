"""The jobs tier: training, whole runs shared by the command line and the app, the benchmark and its report."""
