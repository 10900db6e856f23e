"""The cell registry: every recurrent cell rnnlab knows, one entry each.

Everything that lists cells reads this table: the command line's ``--cell`` choices, the task
model that builds a layer from its config, the long-memory experiments, the explain page and
the plots (gate names and legends), the ONNX and torch exporters, and the tests parametrised
over every cell. Adding a cell is one entry here (docs/design.md walks through it).

An entry names the layer class; the layer names its reference cell (the equations, in NumPy,
with a hand-written backward) and its fused kernel, so a reader can go from here to the
layer to the equations by following imports:

    spec = registry.get("lstm")
    spec.layer        # rnnlab.nn.layers.LSTM
    spec.reference    # rnnlab.nn.cells.lstm   (forward, backward, STATE, GATES, LEGEND)
    spec.kernel()     # rnnlab.nn.kernels.lstm (imported on first call)
    spec.state        # ('h', 'c')
    spec.gates        # ('h', 'c', 'f', 'i', 'o', 'g', 'j', 'k', 'tanh_c')
    spec.legend["f"]  # 'forget gate f: how much old memory to keep ...'
    spec.plotted, spec.bounds   # what a static plot shows; the gates' ranges ({"f": (0, 1)})
    spec.options      # the cell's own options (CellOption): proj_size, layer_norm, ...

The gate names, legends and ranges are those of the layer's `catalogue` when it has one (a
superset of the reference cell's: the LSTM's options add c_norm and m).
"""
from dataclasses import dataclass, field
from functools import partial

from ..errors import RnnlabError
from .cell_memory import CellMemory, mlstm_extra
from .cells.mlstm_chunkwise import chunk_length
from .layers import GRU, LSTM, MLSTM, RNN, SLSTM, MinGRU, MinLSTM


@dataclass(frozen=True)
class CellOption:
    """One option of a cell that a user can set: a layer keyword argument, saved in the run's
    ModelConfig.cell_options and offered by `rnnlab train` as --<name> (underscores as dashes).
    An option is on when its value is true (a pair: when any of it is): 0, False and (0, 0)
    are off. What the exporters need: `torch_kw`, the keyword of the entry's torch layer that
    carries the option (None: the cell's torch twin computes it, interop/torch.py), and `onnx`,
    whether the ONNX export expresses it (one that does nothing in evaluation does)."""
    name: str                  # the layer's keyword, e.g. 'proj_size'
    help: str                  # one line for --help
    type: type = float         # the command line's parser of the value
    default: object = None     # the layer's default, shown in --help
    choices: tuple = None
    flag: bool = False         # a switch (store_true)
    metavar: str = None        # the value's name in --help
    torch_kw: str = None
    onnx: bool = False

    def is_on(self, value):
        """Whether a value changes what the cell computes: a true number or switch, a pair
        with a true part, a choice other than the default."""
        if isinstance(value, (tuple, list)):
            return any(value)
        if self.default is not None and not isinstance(self.default, bool):
            return value != self.default           # a count or a choice: not its default
        return bool(value)


def probability_pair(text):
    """A command-line value 'Z' or 'ZC,ZH' (zoneout's) -> Z, or the pair (ZC, ZH) of floats.
    The layer checks the range; a word that is no number is argparse's error."""
    values = [float(v) for v in str(text).split(",")]
    return values[0] if len(values) == 1 else tuple(values)


# recurrent dropout, which the RNN, the LSTM and the GRU share (one --recurrent-dropout)
RECURRENT_DROPOUT = CellOption(
    "recurrent_dropout", "one dropout mask on h_{t-1} for the whole sequence, in training "
    "(Gal & Ghahramani 2016; default: 0, off)", float, 0.0, metavar="P", onnx=True)
LSTM_OPTIONS = (
    CellOption("proj_size", "project h to P < --hidden units, as torch: h_t = W_hr (o_t * "
               "tanh c_t) (default: 0, off)", int, 0, metavar="P", torch_kw="proj_size"),
    CellOption("layer_norm", "layer normalisation of the gate pre-activations and of c "
               "(Ba et al. 2016; default: off)", flag=True, default=False),
    CellOption("zoneout", "in training each unit of c and h keeps its previous value with "
               "probability Z (Krueger et al. 2016): Z for both, or ZC,ZH (default: 0, off)",
               probability_pair, 0.0, metavar="Z|ZC,ZH"),
    RECURRENT_DROPOUT,
)


@dataclass(frozen=True)
class CellSpec:
    name: str                  # the ModelConfig's `cell`; the reference module's short name
    layer: type                # the torch-style layer class
    summary: str               # one line for help texts
    choices: dict              # command-line name -> ModelConfig options it stands for
    memory: CellMemory         # what one training step holds (nn/cell_memory.py): required,
                               # so that no cell is missing from the memory estimate
    config_options: tuple = ()  # ModelConfig fields passed to the layer (variant, ...)
    torch_layer: str = None    # the torch.nn class with the same weights, or None
    torch_excludes: dict = field(default_factory=dict)  # option -> values torch lacks
    onnx_op: str = None        # the ONNX operator that computes the same, or None
    options: tuple = ()        # CellOption: the cell's own options (ModelConfig.cell_options)
    torch_twin: str = None     # the module in rnnlab.interop whose build(mcfg, input_size,
                               # **torch_kw) makes a torch twin of the configurations
                               # torch_layer cannot compute (all of them without one), or None

    @property
    def reference(self):
        return self.layer.reference

    @property
    def kernel(self):
        return self.layer.kernel

    @property
    def state(self):
        return self.reference.STATE

    @property
    def catalogue(self):
        """The module that names every quantity the layer can cache (GATES, LEGEND, ...)."""
        return self.layer.catalogue or self.reference

    @property
    def gates(self):
        return self.catalogue.GATES

    @property
    def legend(self):
        return self.catalogue.LEGEND

    @property
    def plotted(self):
        return self.catalogue.PLOTTED

    @property
    def bounds(self):
        """{gate: (lo, hi)} for the quantities whose range the equations bound."""
        return self.catalogue.BOUNDS

    def options_on(self, values):
        """The CellOptions among `values` ({name: value}, e.g. a layer's attributes or
        ModelConfig.cell_options) that are on, with their values: [(option, value)]."""
        return [(o, values[o.name]) for o in self.options
                if o.name in values and o.is_on(values[o.name])]

    def layer_options(self, cfg):
        """The layer's keyword options from a ModelConfig: its `config_options` fields and
        the cell's own options (cfg.cell_options)."""
        opts = {k: getattr(cfg, k) for k in self.config_options}
        opts.update(getattr(cfg, "cell_options", None) or {})
        return opts

    def check_options(self, given):
        """cell_options must name options of this cell; an option of another cell is an error
        naming the ones this cell takes."""
        if not isinstance(given, dict):
            raise RnnlabError(f"cell_options must be a dict, got {type(given).__name__}")
        known = {o.name for o in self.options}
        bad = sorted(k for k in given if k not in known)
        if bad:
            takes = ", ".join("--" + o.name.replace("_", "-") for o in self.options) or \
                "no options of its own"
            raise RnnlabError(f"--{bad[0].replace('_', '-')} is not an option of the "
                              f"{self.name} cell; remove it (the {self.name} cell takes {takes})")

    def kernel_runs(self, cfg, backend=None):
        """Whether training `cfg` (a ModelConfig) on `backend` (None: the process default)
        runs the fused kernel, not the reference cell: what the memory estimate counts."""
        from . import backend as _backend
        name = backend or _backend.get_backend()
        if name != "numba" or self.layer.kernel is None or not _backend.numba_available():
            return False
        shell = self.layer.__new__(self.layer)      # the layer's options, nothing allocated
        shell.training = True
        options = self.layer_options(cfg)
        for k, v in options.items():
            setattr(shell, k, v)
        try:
            return bool(shell.kernel_fits())
        except (AttributeError, TypeError):         # an option the layer's constructor
            return not self.options_on(options)     # normalises (zoneout): none on, kernel

    def torch_problem(self, cfg):
        """Why this configuration has no torch layer (a sentence), or None when it has one."""
        if self.torch_layer is None and self.torch_twin is None:
            return f"torch has no {self.name} layer"
        for option, values in self.torch_excludes.items():
            value = getattr(cfg, option)
            if value in values:
                return (f"the {value} {self.name.upper()} has no PyTorch layer (nn.{self.torch_layer}"
                        f" has no {values[value]})")
        return None


# the same function computed two ways (minGRU and minLSTM: rnnlab/nn/cells/_minscan.py; the
# mLSTM: cells/mlstm.py, and cells/mlstm_chunkwise.py and mlstm_parallel.py)
_MODE = CellOption("mode", "the same function computed two ways: 'parallel' (all steps at once: "
                   "minGRU/minLSTM's log-space scan, the mLSTM's attention-like form in chunks "
                   "of 16 to 64 steps with the memory carried between them) or 'recurrent' (one "
                   "step at a time; on a CPU the faster for minGRU/minLSTM, docs/cells.md)", str,
                   "parallel", choices=("parallel", "recurrent"))
# the xLSTM cells' own options (rnnlab train --num-heads 4 --forget-gate exp)
_HEADS = CellOption("num_heads", "split the hidden units into this many heads (it must divide "
                    "--hidden): block-diagonal recurrent weights (sLSTM), one memory per head "
                    "(mLSTM)", int, 1)
_FORGET_GATE = CellOption("forget_gate", "the forget gate: sigmoid, or exp (unbounded, kept "
                          "finite by the stabiliser)", str, "sigmoid", ("sigmoid", "exp"))

CELLS = {spec.name: spec for spec in (
    CellSpec("rnn", RNN, "the plain (Elman) RNN: h_t = tanh(W x_t + U h_{t-1} + b)",
             {"rnn": {"nonlinearity": "tanh"}, "rnn-relu": {"nonlinearity": "relu"}},
             config_options=("nonlinearity",), torch_layer="RNN", onnx_op="RNN",
             options=(RECURRENT_DROPOUT,), torch_twin="torch_rnn",
             memory=CellMemory(kernel=3.5, reference=4)),
    CellSpec("lstm", LSTM, "the LSTM: a cell state c with forget, input and output gates",
             {"lstm": {"variant": "standard"}, "lstm-peephole": {"variant": "peephole"},
              "lstm-coupled": {"variant": "coupled"}},
             config_options=("variant", "forget_bias"), torch_layer="LSTM",
             torch_excludes={"variant": {"peephole": "peephole connections",
                                         "coupled": "coupled input-forget gate"}},
             onnx_op="LSTM", options=LSTM_OPTIONS, torch_twin="torch_lstm",
             memory=CellMemory(kernel=9.5, reference=14)),
    CellSpec("gru", GRU, "the GRU: update and reset gates, h is both memory and output",
             {"gru": {}}, torch_layer="GRU", onnx_op="GRU", options=(RECURRENT_DROPOUT,),
             torch_twin="torch_rnn", memory=CellMemory(kernel=11.5, reference=11)),
    CellSpec("mingru", MinGRU, "minGRU (Feng et al. 2024): the GRU with gates that read only "
             "the input, trained by a parallel scan", {"mingru": {}}, options=(_MODE,),
             torch_twin="torch_min",
             memory=CellMemory(kernel={"parallel": 3.2, "recurrent": 2.2}, reference=15)),
    CellSpec("minlstm", MinLSTM, "minLSTM (Feng et al. 2024): normalised forget and input gates "
             "that read only the input, trained by a parallel scan", {"minlstm": {}},
             options=(_MODE,), torch_twin="torch_min",
             memory=CellMemory(kernel={"parallel": 4.3, "recurrent": 3.2}, reference=20.5)),
    CellSpec("slstm", SLSTM, "xLSTM's sLSTM: exponential input gate, normaliser and "
             "stabiliser, heads with block-diagonal recurrent weights", {"slstm": {}},
             config_options=("forget_bias",), torch_twin="torch_xlstm",
             options=(_HEADS, _FORGET_GATE),
             memory=CellMemory(kernel=12, reference=17)),
    CellSpec("mlstm", MLSTM, "xLSTM's mLSTM: a matrix memory per head written with keys and "
             "values, read with queries; gates from x alone, trains in parallel",
             {"mlstm": {}}, config_options=("forget_bias",), torch_twin="torch_xlstm",
             options=(_HEADS, _FORGET_GATE, _MODE),
             memory=CellMemory(kernel=None, reference={"parallel": 13, "recurrent": 25},
                               extra=partial(mlstm_extra, chunk_length=chunk_length))),
)}


def get(name):
    """The entry of a cell name ('lstm'); an unknown name is an error listing the known ones."""
    if name not in CELLS:
        raise RnnlabError(f"cell must be one of {', '.join(CELLS)}, got {name!r}")
    return CELLS[name]


def choices():
    """{command-line name: (entry, ModelConfig options)}: 'lstm-peephole' -> (lstm, variant)."""
    return {choice: (spec, opts) for spec in CELLS.values() for choice, opts in spec.choices.items()}


def options_by_name():
    """{option name: (CellOption, [cells that take it])}, each option once, in registry
    order: what a command line offers (an option several cells share, such as recurrent
    dropout, appears once and names them all)."""
    seen = {}
    for spec in CELLS.values():
        for o in spec.options:
            seen.setdefault(o.name, (o, []))[1].append(spec.name)
    return seen


def from_choice(choice):
    """A command-line cell name -> ModelConfig options: {'cell': 'lstm', 'variant': ...}."""
    table = choices()
    if choice not in table:
        raise RnnlabError(f"--cell must be one of {', '.join(table)}, got {choice!r}")
    spec, opts = table[choice]
    return {"cell": spec.name, **opts}
