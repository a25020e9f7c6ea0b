"""The core tier: configs, data, models, loss terms and checkpoints. Imports no other tier."""
