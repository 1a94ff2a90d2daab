"""retrain: retrain machine-learning models from Git."""

__version__ = "0.1.0"
