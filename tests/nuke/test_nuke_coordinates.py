"""nuke_plugin.coordinates: engine (top-left, y down) <-> Nuke (bottom-left, y up), and face parameters."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from nuke_plugin import coordinates as co

HEIGHT = 1080


def _random_affine(rng: random.Random) -> list[list[float]]:
    return [[rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-500, 500)],
            [rng.uniform(-2, 2), rng.uniform(-2, 2), rng.uniform(-500, 500)]]


def _random_similarity(rng: random.Random) -> tuple[float, float, float, float]:
    return (rng.uniform(-200, 2100), rng.uniform(-200, 1300), rng.uniform(20, 1500), rng.uniform(-179.9, 179.9))


def test_known_points() -> None:
    assert co.engine_to_nuke_point((10.0, 0.0), HEIGHT) == (10.0, 1080.0)
    assert co.engine_to_nuke_point((0.5, 0.5), HEIGHT) == (0.5, 1079.5)  # the top-left pixel's centre
    assert co.nuke_to_engine_point((3.0, 1080.0), HEIGHT) == (3.0, 0.0)


def test_point_round_trip() -> None:
    rng = random.Random(1)
    for _ in range(100):
        point = (rng.uniform(-1e4, 1e4), rng.uniform(-1e4, 1e4))
        height = rng.randint(1, 5000)
        back = co.nuke_to_engine_point(co.engine_to_nuke_point(point, height), height)
        assert back == pytest.approx(point, abs=1e-9)


def test_affine_is_a_at_f() -> None:
    rng = random.Random(2)
    flip = np.array([[1, 0, 0], [0, -1, HEIGHT], [0, 0, 1]], dtype=np.float64)
    for _ in range(50):
        matrix = _random_affine(rng)
        nuke = co.affine_to_nuke(matrix, HEIGHT)
        np.testing.assert_allclose(nuke, (np.vstack([matrix, [0, 0, 1]]) @ flip)[:2], atol=1e-9)
        np.testing.assert_allclose(co.affine_from_nuke(nuke, HEIGHT), matrix, atol=1e-9)
        point = (rng.uniform(0, 1920), rng.uniform(0, HEIGHT))
        assert co.apply_affine(nuke, co.engine_to_nuke_point(point, HEIGHT)) == pytest.approx(
            co.apply_affine(matrix, point), abs=1e-9)


def test_invert_and_compose() -> None:
    rng = random.Random(3)
    for _ in range(50):
        matrix = _random_affine(rng)
        identity = co.compose_affine(matrix, co.invert_affine(matrix))
        np.testing.assert_allclose(identity, [[1, 0, 0], [0, 1, 0]], atol=1e-7)
    with pytest.raises(ValueError, match="singular"):
        co.invert_affine([[1, 2, 0], [2, 4, 0]])
    with pytest.raises(ValueError, match="2x3"):
        co.invert_affine([[1, 0], [0, 1]])


@pytest.mark.parametrize("y_up", [False, True])
def test_similarity_round_trip(y_up: bool) -> None:
    rng = random.Random(4)
    for _ in range(200):
        params = _random_similarity(rng)
        matrix = co.similarity_matrix(*params, y_up=y_up)
        assert co.similarity_params(matrix) == pytest.approx(params, rel=1e-9, abs=1e-7)
        again = co.similarity_matrix(*co.similarity_params(matrix), y_up=y_up)
        np.testing.assert_allclose(again, matrix, rtol=1e-9, atol=1e-12)
        # the centre is where aligned (0.5, 0.5) lands; the square's side is `scale` plate pixels
        centre = co.apply_affine(matrix, params[:2])
        assert centre == pytest.approx((0.5, 0.5), abs=1e-9)
        to_plate = co.invert_affine(matrix)
        corner_u = co.apply_affine(to_plate, (1.0, 0.0))
        corner_0 = co.apply_affine(to_plate, (0.0, 0.0))
        assert math.dist(corner_u, corner_0) == pytest.approx(params[2], rel=1e-9)
        determinant = matrix[0][0] * matrix[1][1] - matrix[0][1] * matrix[1][0]
        assert (determinant < 0) == y_up


def test_known_similarity() -> None:
    # a 200 px square centred at (960, 540), upright: aligned (0, 0) is the plate's (860, 440)
    matrix = co.similarity_matrix(960.0, 540.0, 200.0, 0.0)
    np.testing.assert_allclose(matrix, [[1 / 200, 0, -860 / 200], [0, 1 / 200, -440 / 200]], atol=1e-12)
    # in Nuke, that face's centre is at y = 1080 - 540 and a face turned clockwise on screen has rotate < 0
    turned = co.similarity_matrix(960.0, 300.0, 200.0, 10.0)  # engine: u axis 10 degrees towards y down
    cx, cy, scale, rotate = co.nuke_face_params(turned, HEIGHT)
    assert (cx, cy, scale, rotate) == pytest.approx((960.0, 780.0, 200.0, -10.0))


def test_nuke_face_params_round_trip() -> None:
    rng = random.Random(5)
    for _ in range(200):
        engine_matrix = co.similarity_matrix(*_random_similarity(rng))
        params = co.nuke_face_params(engine_matrix, HEIGHT)
        np.testing.assert_allclose(co.to_aligned_from_nuke_params(*params, HEIGHT), engine_matrix,
                                   rtol=1e-9, atol=1e-12)
        engine_params = co.similarity_params(engine_matrix)
        expected = (engine_params[0], HEIGHT - engine_params[1], engine_params[2], -engine_params[3])
        assert params == pytest.approx(expected, rel=1e-9, abs=1e-7)


def test_bad_scale() -> None:
    with pytest.raises(ValueError, match="scale"):
        co.similarity_matrix(0, 0, 0.0, 0)
