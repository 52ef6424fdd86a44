import numpy as np
import pytest

from spacejunk.preprocess import MASK_COLOR, RGB_STRETCHES, binning_factor, make_rgb, rgb_bands


def test_rgb_bands_default_and_fallbacks():
    assert rgb_bands(("g", "r", "i")) == ((2,), (1,), (0,))
    assert rgb_bands(("i", "g", "r")) == ((0,), (2,), (1,))
    assert rgb_bands(("g", "r", "i", "z", "Y")) == ((2,), (1,), (0,))
    assert rgb_bands(("z", "r", "g")) == ((0,), (1,), (2,))
    assert rgb_bands(("r", "i", "z")) == ((2,), (1,), (0,))
    assert rgb_bands(("i", "g")) == ((0,), (1, 0), (1,))
    assert rgb_bands(("Y",)) == ((0,), (0,), (0,))
    with pytest.raises(ValueError, match="at least one band"):
        rgb_bands(())


@pytest.mark.parametrize("stretch", RGB_STRETCHES)
@pytest.mark.parametrize("scale, expected", [(1.0, (256, 128, 3)), (0.25, (64, 32, 3)), (0.3, (86, 43, 3))])
def test_make_rgb_shape_and_dtype(make_exposure, stretch, scale, expected):
    rgb = make_rgb(make_exposure(), stretch=stretch, scale=scale)
    assert rgb.shape == expected and rgb.dtype == np.uint8
    assert rgb.flags.c_contiguous
    assert rgb.std() > 0  # not a blank picture


def test_binning_factor():
    assert [binning_factor(s) for s in (1, 0.5, 0.25, 0.3, 0.1)] == [1, 2, 4, 3, 10]
    with pytest.raises(ValueError, match="scale must be in"):
        binning_factor(2.0)
    with pytest.raises(ValueError, match="scale must be in"):
        binning_factor(0)


@pytest.mark.parametrize("stretch", RGB_STRETCHES)
def test_a_source_bright_only_in_i_is_red(make_exposure, stretch):
    exp = make_exposure(bands=("i", "g", "r"), sky=(1000.0, 500.0, 800.0), noise=(20.0, 8.0, 12.0))
    exp.sci[0, 100:120, 40:60] += 20.0 * 30  # 30 sigma in i only
    rgb = make_rgb(exp, stretch=stretch).astype(int)
    patch = rgb[100:120, 40:60].reshape(-1, 3).mean(axis=0)
    sky = rgb[200:, :].reshape(-1, 3).mean(axis=0)
    r, g, b = patch
    assert r > 1.5 * g and r > 1.5 * b and r > sky[0] + 50
    # The sky is neutral: bands are normalised to their own noise.
    assert np.ptp(sky) < 5


def test_single_band_is_grey_and_two_bands_fill_green(make_exposure):
    grey = make_rgb(make_exposure(bands=("r",)))
    np.testing.assert_array_equal(grey[..., 0], grey[..., 1])
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    exp = make_exposure(bands=("g", "z"))
    exp.sci[1, 10:30, 10:30] += 12.0 * 30  # bright in z -> red
    rgb = make_rgb(exp, stretch="linear").astype(int)
    r, g, b = rgb[10:30, 10:30].reshape(-1, 3).mean(axis=0)
    assert r > g > b


def test_explicit_bands_choose_the_channels(make_exposure):
    exp = make_exposure(bands=("g", "r", "i"))
    exp.sci[0, 10:30, 10:30] += 8.0 * 30  # bright in g
    default = make_rgb(exp).astype(int)
    assert default[10:30, 10:30, 2].mean() > default[10:30, 10:30, 0].mean() + 50  # g -> blue
    swapped = make_rgb(exp, bands=("g", "r", "i")).astype(int)
    assert swapped[10:30, 10:30, 0].mean() > swapped[10:30, 10:30, 2].mean() + 50  # g -> red
    with pytest.raises(ValueError, match="has no band 'z'"):
        make_rgb(exp, bands=("z", "r", "g"))
    with pytest.raises(ValueError, match="1, 2 or 3 bands"):
        make_rgb(exp, bands=("g", "r", "i", "g"))


def test_show_mask_paints_masked_pixels_magenta(make_exposure):
    exp = make_exposure()
    exp.msk[1, 50, 20:40] = 2
    exp.msk[2, 80:90, 100] = 1024
    rgb = make_rgb(exp, show_mask=True)
    masked = (exp.msk != 0).any(axis=0)
    assert np.all(rgb[masked] == MASK_COLOR)
    assert not np.any(np.all(rgb[~masked] == MASK_COLOR, axis=-1))
    plain = make_rgb(exp)
    assert not np.any(np.all(plain == MASK_COLOR, axis=-1))
    small = make_rgb(exp, show_mask=True, scale=0.25)
    magenta = np.all(small == MASK_COLOR, axis=-1)
    assert magenta[12, 5:10].all() and magenta[20:23, 25].all() and magenta.sum() == 5 + 3


def test_make_rgb_ignores_nan_pixels(make_exposure):
    exp = make_exposure()
    exp.sci[:, 5, 5] = np.nan
    rgb = make_rgb(exp)
    assert rgb.shape == (256, 128, 3)


def test_make_rgb_rejects_bad_options(make_exposure):
    exp = make_exposure()
    with pytest.raises(ValueError, match="stretch must be one of"):
        make_rgb(exp, stretch="log")
    with pytest.raises(ValueError, match="scale must be in"):
        make_rgb(exp, scale=1.5)
