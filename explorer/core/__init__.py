"""The core tier: configs, data, models, loss terms, checkpoints and the errors a user can cause, with
the checks (``_validation``) and file writes (``_io``) every tier shares. Imports no other tier."""
