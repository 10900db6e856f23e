"""NumPy's OpenBLAS runs on one thread in rnnlab's commands unless the user chose a count
(nn/backend.py one_thread_blas): the kernels never call BLAS, and a 2-thread OpenBLAS call on a
busy 2-core machine stalls whenever one of its threads is descheduled."""
import pytest

from rnnlab.nn import backend


def test_one_thread_blas_sets_numpys_openblas_unless_the_user_chose():
    before = backend.blas_threads()
    if not before:
        pytest.skip("this NumPy bundles no OpenBLAS")
    try:
        backend.set_blas_threads(2)
        assert backend.one_thread_blas(environ={"OPENBLAS_NUM_THREADS": "2"}) == 0
        assert set(backend.blas_threads()) == {2}           # the user's choice stands
        assert backend.one_thread_blas(environ={}) >= 1
        assert set(backend.blas_threads()) == {1}
    finally:
        backend.set_blas_threads(before[0])
