"""Recurrent dropout (Gal & Ghahramani 2016), for the layers whose gates read h_{t-1}: the
RNN, the LSTM and the GRU, as Keras offers and torch does not.

    layer = rnnlab.LSTM(D, H, recurrent_dropout=0.25)

In training, every forward call draws, for each layer and direction, one inverted-dropout mask
d (B, width of h), 0 with probability p and 1/(1-p) otherwise, from the layer's seeded `rng`
(so a run is reproducible, and a resumed run continues the same stream of masks). The cell
multiplies h_{t-1} by the same d at every step, where h_{t-1} enters W_hh: the same units are
silenced for the whole sequence, which is what lets dropout act on a recurrence without
drowning its memory in noise. A sequence fed in chunks gets one mask per chunk.

In evaluation there is no mask: the layer equals the same layer without recurrent dropout, and
the fused kernels run it. In training the GRU's and the RNN's mask runs on their kernels
(kernels/rdrop_gates.py), the standard LSTM's on its options kernel (kernels/lstm_options.py);
the peephole and coupled LSTM's on the reference (their kernels lack the mask).
"""
from ..functional import check_dropout, dropout_mask


class RecurrentDropout:
    """A mixin of RNN, LSTM and GRU (before RecurrentLayer in the bases): the
    `recurrent_dropout` option, its masks in call_options() and the kernel's fit."""
    recurrent_dropout = 0.0

    def _set_recurrent_dropout(self, p):
        self.recurrent_dropout = check_dropout(p, "recurrent_dropout")

    def call_options(self, k, d, T, B):
        opts = super().call_options(k, d, T, B)
        if self.training and self.recurrent_dropout > 0:
            width = self.state_shapes()["h"]
            opts["recurrent_mask"] = dropout_mask((B,) + width, self.recurrent_dropout,
                                                  self.rng, self.dtype)
        return opts

    def recurrent_mask_on(self):
        """Whether this call draws a recurrent-dropout mask (training with p > 0)."""
        return self.training and self.recurrent_dropout > 0

    def recurrent_mask_fits(self):
        """Whether the layer's kernel applies the mask: the RNN's and GRU's do (the LSTM
        narrows this to its standard variant, on its options kernel)."""
        return True

    def kernel_fits(self):
        return super().kernel_fits() and (self.recurrent_mask_fits() or not self.recurrent_mask_on())
