"""Each solver integrates a known linear field exactly or to its order."""

from __future__ import annotations

import pytest
import torch

from pointdiff.flow.solvers import NFE_PER_STEP, ORDER, solve

A = torch.tensor([[-0.5, 1.2], [-0.9, 0.3]], dtype=torch.float64)


pytestmark = pytest.mark.usefixtures("one_thread")  # see tests/conftest.py


def field(x: torch.Tensor, t: float) -> torch.Tensor:
    return x @ A.T  # dx/dt = A x


def exact(x0: torch.Tensor) -> torch.Tensor:
    return x0 @ torch.linalg.matrix_exp(A).T  # x(1) = e^A x0


X0 = torch.tensor([[[1.0, -2.0], [0.5, 0.25], [-1.5, 3.0]]], dtype=torch.float64)


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4"])
def test_fixed_step_error_falls_at_the_methods_order(method: str) -> None:
    errors = []
    for steps in (8, 16, 32):
        sol = solve(field, X0, method, steps=steps)
        assert sol.nfe == steps * NFE_PER_STEP[method]
        errors.append(float((sol.x - exact(X0)).abs().max()))
    for coarse, fine in zip(errors, errors[1:]):
        ratio = coarse / fine
        assert ratio == pytest.approx(2 ** ORDER[method], rel=0.25), (method, errors)


@pytest.mark.parametrize("method", ["euler", "midpoint", "heun", "rk4", "adaptive"])
def test_constant_field_is_exact_for_every_method(method: str) -> None:
    v = torch.tensor([0.3, -1.0], dtype=torch.float64)
    sol = solve(lambda x, t: v.expand_as(x), X0, method, steps=3)
    torch.testing.assert_close(sol.x, X0 + v)


def test_second_order_methods_are_exact_for_fields_linear_in_t() -> None:
    for method in ("midpoint", "heun", "rk4"):
        sol = solve(lambda x, t: torch.full_like(x, t), X0, method, steps=2)  # x(1) = x0 + 1/2
        torch.testing.assert_close(sol.x, X0 + 0.5)


def test_adaptive_meets_its_tolerance_and_keeps_the_path() -> None:
    loose = solve(field, X0, "adaptive", rtol=1e-3, atol=1e-3)
    tight = solve(field, X0, "adaptive", rtol=1e-8, atol=1e-8, keep_path=True)
    assert float((loose.x - exact(X0)).abs().max()) < 1e-2
    assert float((tight.x - exact(X0)).abs().max()) < 1e-6
    assert tight.nfe > loose.nfe
    assert tight.times[0] == 0.0 and tight.times[-1] == pytest.approx(1.0)
    assert len(tight.path) == len(tight.times)


def test_keep_path_and_unknown_solver() -> None:
    sol = solve(field, X0, "euler", steps=5, keep_path=True)
    assert len(sol.path) == 6 and sol.times == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    with pytest.raises(ValueError):
        solve(field, X0, "leapfrog")
