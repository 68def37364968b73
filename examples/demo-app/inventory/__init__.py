"""The demo app's own code: service -> repository -> helpers."""
