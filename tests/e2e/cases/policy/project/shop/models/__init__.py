"""Models of the shop."""
