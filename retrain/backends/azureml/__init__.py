"""Azure ML v2 over the Resource Manager REST API. See :mod:`retrain.backends.azureml.backend`."""

from .backend import AzureMLBackend

__all__ = ["AzureMLBackend"]
