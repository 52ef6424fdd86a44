import numpy as np
import pytest

from spacejunk import SpacejunkWarning
from spacejunk.io import Exposure
from spacejunk.preprocess import amplifier_step, bin_image, normalise, sky_and_noise, sky_planes


def _with_sources(image, rng, n=8, amp=5000.0, sigma=2.0):
    ny, nx = image.shape
    yy, xx = np.mgrid[:ny, :nx]
    for _ in range(n):
        y0, x0 = rng.uniform(0, ny), rng.uniform(0, nx)
        image += amp * np.exp(-((yy - y0) ** 2 + (xx - x0) ** 2) / (2 * sigma**2))
    return image


@pytest.mark.parametrize("sample", [1 << 19, 3000])
def test_sky_and_noise_recovers_gaussian_sky_with_sources_and_masked_pixels(sample):
    rng = np.random.default_rng(1)
    image = (300.0 + 15.0 * rng.standard_normal((256, 128))).astype(np.float32)
    image = _with_sources(image, rng)
    mask = np.zeros(image.shape, dtype=np.int32)
    mask[40:60, :] = 2  # saturated band, garbage values
    image[40:60, :] = 1e6
    image[100, 5:50] = np.nan
    sky, noise = sky_and_noise(image, mask=mask, sample=sample)
    assert isinstance(sky, float) and isinstance(noise, float)
    assert abs(sky - 300.0) < 0.05 * 15.0
    assert noise == pytest.approx(15.0, rel=0.05)


def test_sky_and_noise_of_a_stack_is_per_band(make_exposure):
    exp = make_exposure(sky=(100.0, 200.0, 300.0), noise=(5.0, 10.0, 40.0))
    sky, noise = sky_and_noise(exp.sci, mask=exp.msk)
    assert sky.shape == noise.shape == (3,)
    np.testing.assert_allclose(sky, [100, 200, 300], atol=1.0)
    np.testing.assert_allclose(noise, [5, 10, 40], rtol=0.05)


def test_sky_and_noise_fallbacks():
    with pytest.warns(SpacejunkWarning, match="no unmasked finite pixel"):
        assert sky_and_noise(np.ones((20, 30)), mask=np.ones((20, 30), bool)) == (0.0, 1.0)
    with pytest.warns(SpacejunkWarning):
        assert sky_and_noise(np.full((20, 30), np.nan)) == (0.0, 1.0)
    assert sky_and_noise(np.full((20, 30), 7.0)) == (7.0, 1.0)
    # Mostly one value: MAD is 0, the standard deviation is used.
    image = np.zeros((50, 50))
    image[:10] = 10.0
    sky, noise = sky_and_noise(image)
    assert sky == 0.0 and noise == pytest.approx(np.std(image))


def test_sky_and_noise_rejects_bad_arguments():
    with pytest.raises(ValueError, match="image must have shape"):
        sky_and_noise(np.zeros(10))
    with pytest.raises(ValueError, match="mask must have shape"):
        sky_and_noise(np.zeros((4, 5)), mask=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="sample must be > 0"):
        sky_and_noise(np.zeros((4, 5)), sample=0)


def test_normalise_is_unit_gaussian_on_empty_sky_and_zero_on_bad_pixels(make_exposure):
    exp = make_exposure(shape=(256, 128))
    exp.msk[1, 10:20, 10:20] = 16
    exp.sci[1, 10:20, 10:20] = 1e5
    exp.sci[0, 50, 60] = np.nan
    exp.sci[2, 70, 80] = np.inf
    z = normalise(exp, stretch=None)
    assert z.dtype == np.float32 and z.shape == exp.sci.shape
    empty = z[:, 100:, :]
    np.testing.assert_allclose(empty.mean(axis=(1, 2)), 0.0, atol=0.03)
    np.testing.assert_allclose(empty.std(axis=(1, 2)), 1.0, rtol=0.05)
    assert np.all(z[1, 10:20, 10:20] == 0)
    assert z[0, 50, 60] == 0 and z[2, 70, 80] == 0
    assert np.isfinite(z).all()


def test_normalise_mask_bits_choose_which_pixels_are_zeroed(make_exposure):
    exp = make_exposure()
    exp.msk[0, 5, 5] = 16
    exp.msk[0, 6, 6] = 2
    exp.sci[0, 5, 5] = exp.sci[0, 6, 6] = 500.0 + 8.0 * 10
    kept = normalise(exp, stretch=None, mask_bits=0)
    assert kept[0, 5, 5] == pytest.approx(10.0, abs=0.5) and kept[0, 6, 6] == pytest.approx(10.0, abs=0.5)
    only_saturated = normalise(exp, stretch=None, mask_bits=2)
    assert only_saturated[0, 5, 5] == pytest.approx(10.0, abs=0.5) and only_saturated[0, 6, 6] == 0


def test_normalise_asinh_and_clip(make_exposure):
    exp = make_exposure(bands=("r",), sky=(1000.0,), noise=(10.0,))
    exp.sci[0, 3, 4] = 1000.0 + 10.0 * 1e4  # a saturated star, 1e4 sigma
    linear = normalise(exp, stretch="linear")
    same = normalise(exp, stretch=None)
    np.testing.assert_array_equal(linear, same)
    stretched = normalise(exp, stretch="asinh", softening=5.0)
    np.testing.assert_allclose(stretched, 5.0 * np.arcsinh(linear / 5.0), rtol=1e-5, atol=1e-5)
    assert 35 < stretched[0, 3, 4] < 45
    # Near the sky the asinh stretch keeps the noise scale.
    assert stretched[0, 100:].std() == pytest.approx(1.0, rel=0.06)
    clipped = normalise(exp, stretch=None, clip=3.0)
    assert clipped.max() == pytest.approx(3.0) and clipped.min() == pytest.approx(-3.0)
    lo_hi = normalise(exp, stretch=None, clip=(-1.0, 2.0))
    assert lo_hi.min() == pytest.approx(-1.0) and lo_hi.max() == pytest.approx(2.0)


def test_normalise_rejects_bad_options(make_exposure):
    exp = make_exposure()
    with pytest.raises(ValueError, match="stretch must be one of"):
        normalise(exp, stretch="log")
    with pytest.raises(ValueError, match="clip must have lo < hi"):
        normalise(exp, clip=(2.0, 1.0))
    with pytest.raises(TypeError, match="exposure must be an Exposure"):
        normalise(exp.sci)


def _tilted_sky(rng, ny=1024, nx=512):
    """Unit noise on a plane per amplifier half: (band, truth)."""
    yy, xx = np.mgrid[:ny, :nx]
    truth = np.where(xx < nx // 2, 0.2 + 0.6 * (xx + 0.5) / nx - 0.4 * (yy + 0.5) / ny,
                     -0.3 + 0.1 * (xx + 0.5) / nx + 0.5 * (yy + 0.5) / ny).astype(np.float32)
    return truth + rng.normal(0.0, 1.0, (ny, nx)).astype(np.float32), truth


def test_sky_planes_follow_each_amplifiers_tilt_and_not_a_ghost_or_stars():
    rng = np.random.default_rng(4)
    band, truth = _tilted_sky(rng)
    plane = sky_planes(band, block=32)
    assert plane.dtype == np.float32 and plane.shape == band.shape
    np.testing.assert_allclose(plane, truth, atol=0.05)
    # a faint disc ("ghost", +0.5 sigma) over an eighth of an amplifier, bright stars and a masked
    # bright column: the plane still follows the sky, and the disc stays in the residual
    yy, xx = np.mgrid[:1024, :512]
    disc = (yy - 700) ** 2 + (xx - 130) ** 2 < 100**2
    ghosted = band + 0.5 * disc
    ghosted[400:403, 300:303] += 1e4
    ghosted[:, 400] += 50.0
    mask = np.zeros(band.shape, np.int32)
    mask[:, 400] = 1
    plane = sky_planes(ghosted, mask, block=32)
    np.testing.assert_allclose(plane, truth, atol=0.08)
    assert (ghosted - plane)[disc].mean() == pytest.approx(0.5, abs=0.05)


def test_normalise_background_plane_flattens_a_tilted_sky(make_exposure):
    rng = np.random.default_rng(5)
    exp = make_exposure(shape=(1024, 512), bands=("r",), sky=(1000.0,), noise=(10.0,))
    band, truth = _tilted_sky(rng)
    exp.sci[0] = 1000.0 + 10.0 * band
    flat = normalise(exp, stretch=None, background="plane")
    tilted = normalise(exp, stretch=None)
    # the corners of the tilted sky differ by ~1 sigma; after the plane they are the sky
    for z, expected in ((tilted, truth - np.median(truth)), (flat, 0 * truth)):
        for sl in (np.s_[:128, :128], np.s_[-128:, :128], np.s_[:128, -128:], np.s_[-128:, -128:]):
            assert z[0][sl].mean() == pytest.approx(expected[sl].mean(), abs=0.1)
    assert flat[0].std() == pytest.approx(1.0, rel=0.03)
    with pytest.raises(ValueError, match="background must be one of"):
        normalise(exp, background="poly")


def test_amplifier_step_is_the_boundarys_step_not_the_gradient_or_a_ghost(make_exposure):
    rng = np.random.default_rng(6)
    ny, nx = 1024, 512
    yy, xx = np.mgrid[:ny, :nx] / np.float32(ny)
    # the sky tilted by 0.8 sigma across the CCD, the right amplifier 0.15 sigma lower,
    # and a faint ghost (+0.4 sigma) over the boundary
    ghost = 0.4 * (((yy - 0.7) ** 2 + (xx - 0.25) ** 2) < 0.2**2)
    sky = 0.8 * yy - 0.3 * xx + ghost - 0.15 * (xx >= 0.25)
    band = (sky + rng.normal(0.0, 1.0, (ny, nx))).astype(np.float32)
    assert amplifier_step(band) == pytest.approx(-0.15, abs=0.04)
    mask = np.zeros((ny, nx), np.int32)
    band[:, 250:260] = 100.0  # a masked bright column by the boundary
    mask[:, 250:260] = 1
    assert amplifier_step(band, mask) == pytest.approx(-0.15, abs=0.04)
    assert amplifier_step(np.zeros((8, 1))) == 0.0
    exp = make_exposure(shape=(ny, nx), bands=("r",), sky=(1000.0,), noise=(10.0,))
    exp.sci[0] = 1000.0 + 10.0 * band
    exp.msk[0] = mask
    flat = normalise(exp, stretch=None, background="amplifiers")
    assert amplifier_step(flat[0], mask) == pytest.approx(0.0, abs=0.02)
    # only the step changes: the two halves move by half of it each, the gradient stays
    plain = normalise(exp, stretch=None)
    shift = (flat - plain)[0][mask == 0]
    left = (xx < 0.25)[mask == 0]
    assert np.ptp(shift[left]) < 1e-4 and np.ptp(shift[~left]) < 1e-4
    assert shift[left][0] == pytest.approx(-shift[~left][0], abs=1e-4)
    assert shift[left][0] - shift[~left][0] == pytest.approx(-0.15, abs=0.04)  # the left half comes down


def test_normalise_all_masked_band_warns_and_is_zero():
    sci = np.ones((1, 16, 8), np.float32)
    exp = Exposure("m", ("g",), sci, np.ones_like(sci, dtype=np.int32), np.ones_like(sci))
    with pytest.warns(SpacejunkWarning):
        z = normalise(exp)
    assert np.all(z == 0)


def test_bin_image_mean_and_max_with_ragged_edges():
    a = np.arange(15, dtype=np.float32).reshape(3, 5)
    # [[0 1 2 3 4], [5 6 7 8 9], [10 11 12 13 14]]
    mean = bin_image(a, 2)
    assert mean.dtype == np.float32 and mean.shape == (2, 3)
    np.testing.assert_allclose(mean, [[3.0, 5.0, 6.5], [10.5, 12.5, 14.0]])
    np.testing.assert_array_equal(bin_image(a, 2, func="max"), [[6, 8, 9], [11, 13, 14]])
    np.testing.assert_array_equal(bin_image(-a.astype(np.int16), 2, func="max"), [[0, -2, -4], [-10, -12, -14]])
    np.testing.assert_array_equal(bin_image(a, 1), a)
    assert bin_image(a, 10).item() == pytest.approx(7.0)


def test_bin_image_stack_and_boolean_mask():
    stack = np.ones((3, 8, 8), np.float32) * np.array([1, 2, 3], np.float32)[:, None, None]
    binned = bin_image(stack, 4)
    assert binned.shape == (3, 2, 2)
    np.testing.assert_allclose(binned[:, 0, 0], [1, 2, 3])
    mask = np.zeros((9, 9), bool)
    mask[8, 8] = True
    anyset = bin_image(mask, 4, func="max")
    assert anyset.dtype == bool
    np.testing.assert_array_equal(anyset, [[0, 0, 0], [0, 0, 0], [0, 0, 1]])


def test_bin_image_rejects_bad_arguments():
    with pytest.raises(ValueError, match="factor must be > 0"):
        bin_image(np.zeros((4, 4)), 0)
    with pytest.raises(TypeError, match="factor must be an integer"):
        bin_image(np.zeros((4, 4)), 2.5)
    with pytest.raises(ValueError, match="func must be"):
        bin_image(np.zeros((4, 4)), 2, func="median")
