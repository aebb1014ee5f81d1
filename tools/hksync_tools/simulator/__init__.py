"""A simulated Apple Watch user and the runner that uploads its syncs to a stack."""
