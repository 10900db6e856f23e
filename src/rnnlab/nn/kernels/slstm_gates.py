"""The sLSTM's fused per-step passes over (B, H) for one batch row, forward and backward, and
the elementwise exp / log sigmoid they use. The time loops and the products: slstm.py.

Layout: the pre-activation buffer A (T, B, 4H) is head-major: head j's four gate blocks
i, f, z, o of d = H/heads units are the 4d columns from 4dj, so one product per head fills
them (the reference cell's rows are gate-major; slstm.py permutes the weights once). The
forward writes the gates i', f', z, o back into A in place; the backward overwrites them
with dA. Float64 follows the reference cell (rnnlab.nn.cells.slstm) operation by operation.
"""
import math

from numba import njit

from .activations import one, sigm, tanh_


@njit(inline="always", error_model="numpy")
def log_sigmoid(a):
    """log sigma(a) = min(a, 0) - log(1 + exp(-|a|)), in a's dtype."""
    if a < 0:
        return a - math.log1p(math.exp(a))
    return -math.log1p(math.exp(-a))


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gates_fwd(A, acc, t, b, heads, d, exp_f, st, cs, ns, ms, lis, lfs, y):
    """Step t of row b. acc: (heads, B, 4d) the recurrent products; st: (4, B, H) the state
    (h, c, n, m), updated in place; cs, ns, ms, y: (T, B, H) the state after each step and the
    output; lis, lfs: (T, B, H) log i and log f for the backward pass."""
    a = A[t, b]
    o1 = one(A)
    for j in range(heads):
        r = acc[j, b]
        base = 4 * d * j
        for u in range(d):
            k = j * d + u
            log_i = a[base + u] + r[u]
            af = a[base + d + u] + r[d + u]
            log_f = af if exp_f else log_sigmoid(af)
            z = tanh_(a[base + 2 * d + u] + r[2 * d + u])
            o = sigm(a[base + 3 * d + u] + r[3 * d + u])
            keep = log_f + st[3, b, k]
            # m_t = max(keep, log i): the winner's stabilised gate is exp(0) = 1 exactly, so
            # one exp gives the other (the same numbers as the reference's two)
            if keep >= log_i:
                m_new, f_s = keep, o1
                i_s = math.exp(log_i - keep)
            else:
                m_new, i_s = log_i, o1
                f_s = math.exp(keep - log_i)
            c = f_s * st[1, b, k] + i_s * z
            n = f_s * st[2, b, k] + i_s
            h = o * (c / n)
            a[base + u] = i_s
            a[base + d + u] = f_s
            a[base + 2 * d + u] = z
            a[base + 3 * d + u] = o
            lis[t, b, k] = log_i
            lfs[t, b, k] = log_f
            st[0, b, k] = h
            st[1, b, k] = c
            st[2, b, k] = n
            st[3, b, k] = m_new
            cs[t, b, k] = c
            ns[t, b, k] = n
            ms[t, b, k] = m_new
            y[t, b, k] = h


@njit(cache=True, nogil=True, fastmath={"contract"}, error_model="numpy")
def gates_bwd(A, dy, t, b, heads, d, exp_f, ds, cs, ns, ms, lis, lfs, s0):
    """Step t of row b back: the gates in A[t, b] become dA. ds: (4, B, H) = dL/d(h, c, n, m)
    after step t in; out: dc, dn, dm before it (dh is left for the caller's product).
    s0: (4, B, H) the initial state (the state before step 0)."""
    a = A[t, b]
    o1 = one(A)
    for j in range(heads):
        base = 4 * d * j
        for u in range(d):
            k = j * d + u
            i_s = a[base + u]
            f_s = a[base + d + u]
            z = a[base + 2 * d + u]
            o = a[base + 3 * d + u]
            if t > 0:
                c_prev, n_prev, m_prev = cs[t - 1, b, k], ns[t - 1, b, k], ms[t - 1, b, k]
            else:
                c_prev, n_prev, m_prev = s0[1, b, k], s0[2, b, k], s0[3, b, k]
            n_t = ns[t, b, k]
            r = cs[t, b, k] / n_t
            dh_t = dy[t, b, k] + ds[0, b, k]
            do = dh_t * r
            dr = dh_t * o
            dc_t = ds[1, b, k] + dr / n_t
            dn_t = ds[2, b, k] - dr * r / n_t
            di_s = dc_t * z + dn_t
            df_s = dc_t * c_prev + dn_t * n_prev
            dz = dc_t * i_s
            dlog_i = di_s * i_s
            dlog_f = df_s * f_s
            dm_t = ds[3, b, k] - dlog_i - dlog_f
            dm_prev = dlog_f
            log_f = lfs[t, b, k]
            if log_f + m_prev >= lis[t, b, k]:       # the max's winner takes dm_t
                dlog_f += dm_t
                dm_prev += dm_t
            else:
                dlog_i += dm_t
            a[base + u] = dlog_i
            a[base + d + u] = dlog_f if exp_f else dlog_f * -math.expm1(log_f)
            a[base + 2 * d + u] = dz * (o1 - z * z)
            a[base + 3 * d + u] = do * o * (o1 - o)
            ds[1, b, k] = dc_t * f_s
            ds[2, b, k] = dn_t * f_s
            ds[3, b, k] = dm_prev
