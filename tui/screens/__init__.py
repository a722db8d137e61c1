"""The wizard's screens, one per step."""
