"""rnnlab.torch: the optional PyTorch bridge (a re-export of rnnlab.interop.torch).

torch itself is imported lazily, on first use; without it every function raises RnnlabError
saying how to install it. See docs/interop.md.
"""
from .interop.torch import (build_twin, export_torch, import_torch, load_torch_weights,
                            read_run_config, torch_state_dict)

__all__ = ["build_twin", "export_torch", "import_torch", "load_torch_weights", "read_run_config",
           "torch_state_dict"]
