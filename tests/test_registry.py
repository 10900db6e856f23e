"""The cell registry is the one list of cells: every entry is complete and consistent, and the
rooms that list cells (the command line, the task model) read it."""
import numpy as np
import pytest

from rnnlab.app.cli import build_parser
from rnnlab.errors import RnnlabError
from rnnlab.nn import registry
from rnnlab.nn.registry import CellOption, CellSpec
from rnnlab.tasks.model import ModelConfig, SequenceModel


@pytest.mark.parametrize("name", list(registry.CELLS))
def test_every_entry_is_complete(name):
    spec = registry.get(name)
    layer = spec.layer(2, 3)
    assert spec.name == name == layer.cell
    ref = spec.reference
    for fn in ("forward", "backward"):
        assert callable(getattr(ref, fn)), fn
    parts = layer.state_shapes()
    assert tuple(parts) == spec.state
    # every state part that is (H,) per row is cached after each step (a matrix memory or a
    # per-head stabiliser is not (T, B, H) and cannot be); the RNN's, LSTM's and GRU's all are
    per_unit = {p for p, shape in parts.items() if shape == (3,)}
    assert per_unit <= set(spec.gates), "the (H,) state parts must be among the cached gates"
    if spec.layer.__module__.rsplit(".", 1)[-1] in ("rnn", "lstm", "gru"):
        assert per_unit == set(spec.state)
    assert set(spec.plotted) <= set(spec.gates) and set(spec.bounds) <= set(spec.gates)
    assert set(spec.legend) <= set(spec.gates) and "h" in spec.legend
    if spec.kernel is not None:
        kernel = spec.kernel()
        assert callable(kernel.forward) and callable(kernel.backward)
    assert spec.choices and all(isinstance(opts, dict) for opts in spec.choices.values())


def test_the_command_line_offers_every_choice():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    cell = next(a for a in train._actions if a.dest == "cell")
    assert list(cell.choices) == list(registry.choices())


@pytest.mark.parametrize("choice", list(registry.choices()))
def test_a_choice_builds_its_layer(choice):
    opts = registry.from_choice(choice)
    cfg = ModelConfig(layers=1, task="series", input_size=2, output_size=1, hidden=3, **opts).validate()
    model = SequenceModel(cfg)
    assert type(model.rnn) is registry.get(opts["cell"]).layer
    out, _ = model.forward(np.zeros((4, 1, 2), np.float32))
    assert out.shape == (4, 1, 1)


def test_unknown_names_are_one_line_errors():
    with pytest.raises(RnnlabError, match="cell must be one of rnn, lstm, gru"):
        registry.get("transformer")
    with pytest.raises(RnnlabError, match="--cell must be one of"):
        registry.from_choice("lstm-typo")


def test_cell_options_are_checked_against_the_cell():
    spec = CellSpec("toy", registry.get("gru").layer, "a toy", {"toy": {}},
                    registry.get("gru").memory, options=(CellOption("depth", "how deep", int, 1),))
    spec.check_options({"depth": 2})
    with pytest.raises(RnnlabError, match="--width is not an option of the toy cell; remove it "
                                          r"\(the toy cell takes --depth\)"):
        spec.check_options({"width": 2})
    with pytest.raises(RnnlabError, match="not an option of the gru cell"):
        ModelConfig(layers=1, task="series", cell="gru", input_size=1, output_size=1,
                    cell_options={"proj_size": 2}).validate()


def test_every_cell_option_is_a_train_flag_and_a_layer_keyword():
    """Each CellOption is offered by `rnnlab train`, named by its help line, accepted by the
    layer at its default (which is off), and saved in a ModelConfig that builds a model."""
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    actions = {a.dest: a for a in train._actions}
    for spec in registry.CELLS.values():
        for o in spec.options:
            assert o.name in actions and o.help and "--" + o.name.replace("_", "-") in \
                actions[o.name].option_strings
            assert spec.name in actions[o.name].help          # names the cells that take it
            assert not o.is_on(o.default)
            spec.layer(2, 3, **{o.name: o.default})
    cfg = ModelConfig(layers=1, task="series", cell="lstm", input_size=2, output_size=1, hidden=4,
                      cell_options={"proj_size": 2, "recurrent_dropout": 0.1}).validate()
    out, _ = SequenceModel(cfg).forward(np.zeros((3, 1, 2), np.float32))
    assert out.shape == (3, 1, 1)
    assert ModelConfig.from_json(cfg.to_json()).cell_options == cfg.cell_options
