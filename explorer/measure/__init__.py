"""The measurement tier: inference, calibration, attacks, corruptions, latent fit, OOD and projections.

Imports ``explorer.core`` only (never figures, jobs or the app)."""
