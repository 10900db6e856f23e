"""rnnlab: recurrent networks from first principles."""
__version__ = "0.1.0"
