"""Design-space sweeps."""
