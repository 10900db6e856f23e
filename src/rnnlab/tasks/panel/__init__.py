"""Panels: many series in the long format, one global model (task.py), the trained
forecaster (model.py). pandas is needed to read a panel and is imported on first use."""
from .model import PanelModel
from .task import PanelTask

__all__ = ["PanelModel", "PanelTask"]
