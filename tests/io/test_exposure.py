import numpy as np
import pytest
from astropy.io import fits

from spacejunk import InputError
from spacejunk._errors import BadPixelsWarning
from spacejunk.io import Exposure, read_exposure, write_exposure


def _exposure(layers, bands=("g", "r", "i"), name="sim0"):
    sci, msk, wgt = layers
    n = len(bands)
    sci3 = np.stack([sci + 10 * k for k in range(n)]).astype(np.float32)
    msk3 = np.stack([msk.astype(np.int32) << k for k in range(n)])
    msk3[-1, 0, 0] = 1 << 22  # a category bit: needs int32 on disk
    wgt3 = np.stack([wgt] * n)
    headers = tuple(fits.Header([("GAIN", 4.0 + k), ("EXPTIME", 90.0)]) for k in range(n))
    return Exposure(name, tuple(bands), sci3, msk3, wgt3, headers)


# --------------------------------------------------------------------------- round trips
def test_round_trip_plain_is_exact(tmp_path, layers):
    exp = _exposure(layers)
    paths = write_exposure(exp, tmp_path / "out")
    assert [p.name for p in paths] == ["sim0_g.fits", "sim0_r.fits", "sim0_i.fits"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)  # no temp files

    back = read_exposure(reversed(paths))
    assert back.name == "sim0"
    assert back.bands == ("g", "r", "i")
    assert back.sci.dtype == np.float32 and back.msk.dtype == np.int32 and back.wgt.dtype == np.float32
    np.testing.assert_array_equal(back.sci, exp.sci)
    np.testing.assert_array_equal(back.msk, exp.msk)
    np.testing.assert_array_equal(back.wgt, exp.wgt)
    assert [h["GAIN"] for h in back.headers] == [4.0, 5.0, 6.0]
    assert [h["BAND"] for h in back.headers] == ["g", "r", "i"]
    assert back.paths == tuple(paths)

    with fits.open(paths[0]) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "MSK", "WGT"]
        assert hdul[0].header["BAND"] == "g"
        assert hdul["MSK"].data.dtype.itemsize == 2  # DESDM's int16 where the bits fit
    with fits.open(paths[2]) as hdul:
        assert hdul["MSK"].data.dtype.itemsize == 4  # bit 22 needs int32


def test_round_trip_compressed(tmp_path, layers):
    exp = _exposure(layers, bands=("r", "z"))
    exp.sci[0, 5, 5] = 0.0  # a masked pixel stays exactly 0
    paths = write_exposure(exp, tmp_path, compress=True)
    assert [p.name for p in paths] == ["sim0_r.fits.fz", "sim0_z.fits.fz"]
    with fits.open(paths[0], disable_image_compression=True) as hdul:
        assert hdul["SCI"].header["ZCMPTYPE"] == "RICE_1"
        assert hdul["MSK"].header["ZCMPTYPE"] == "PLIO_1"
        assert hdul["WGT"].header["ZCMPTYPE"] == "RICE_1"

    back = read_exposure(paths)
    assert back.bands == ("r", "z")
    np.testing.assert_array_equal(back.msk, exp.msk)
    err = np.abs(back.sci - exp.sci)
    assert err.max() < 5.0 / 8  # quantised in steps of about noise/16
    assert 0 < err.mean() < 5.0 / 16
    assert back.sci[0, 5, 5] == 0.0
    np.testing.assert_allclose(back.wgt, exp.wgt, rtol=0.05)
    assert back.headers[0]["GAIN"] == 4.0


def test_desdm_single_file_name_and_band(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    path = write_fits(tmp_path / "D00362921_r_c57_r2331p02_immasked.fits.fz",
                      [("SCI", sci, None), ("MSK", msk, None), ("WGT", wgt, None)], compress=True)
    exp = read_exposure(path)
    assert exp.name == "D00362921_r_c57_r2331p02_immasked"
    assert exp.bands == ("r",)
    assert exp.shape == (64, 32)
    np.testing.assert_array_equal(exp.msk[0], msk)
    # written back under the same name, so that it reads back as the same image
    (out,) = write_exposure(exp, tmp_path / "out")
    assert out.name == "D00362921_r_c57_r2331p02_immasked.fits"
    assert read_exposure(out).name == exp.name


def test_band_from_header_wins_over_file_name(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    no_band = write_fits(tmp_path / "img_g.fits", [("SCI", sci, None)])
    in_sci = write_fits(tmp_path / "field.fits", [("SCI", sci, {"BAND": "i"})])
    in_primary = write_fits(tmp_path / "other.fits", [("SCI", sci, None)], primary={"BAND": "y"})
    wrong_name = write_fits(tmp_path / "img_r.fits", [("SCI", sci, {"BAND": "z"})])
    assert read_exposure(no_band).bands == ("g",)
    assert read_exposure(in_sci).bands == ("i",)
    assert read_exposure(in_primary).bands == ("Y",)
    assert read_exposure(wrong_name).bands == ("z",)


def test_hdus_in_any_order_and_case(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    path = write_fits(tmp_path / "img_i.fits", [("wgt", wgt, None), ("Msk", msk, None), ("SCI", sci, None)])
    exp = read_exposure(path)
    np.testing.assert_array_equal(exp.sci[0], sci)
    np.testing.assert_array_equal(exp.msk[0], msk)
    np.testing.assert_array_equal(exp.wgt[0], wgt)


def test_big_endian_data_becomes_native(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    path = write_fits(tmp_path / "img_g.fits",
                      [("SCI", sci.astype(">f4"), None), ("MSK", msk.astype(">i2"), None), ("WGT", wgt.astype(">f8"), None)])
    exp = read_exposure(path)
    for arr, dtype in ((exp.sci, np.float32), (exp.msk, np.int32), (exp.wgt, np.float32)):
        assert arr.dtype == np.dtype(dtype) and arr.dtype.isnative
    np.testing.assert_array_equal(exp.sci[0], sci)
    np.testing.assert_array_equal(exp.msk[0], msk)
    np.testing.assert_array_equal(exp.wgt[0], wgt)


def test_missing_msk_and_wgt_mean_no_mask_and_unit_weight(tmp_path, layers, write_fits):
    sci, _, _ = layers
    exp = read_exposure(write_fits(tmp_path / "img_g.fits", [("SCI", sci, None)]))
    assert exp.msk.shape == exp.wgt.shape == (1, 64, 32)
    assert not exp.msk.any()
    assert (exp.wgt == 1).all()


def test_bands_option_selects_and_orders(tmp_path, layers):
    paths = write_exposure(_exposure(layers, bands=("g", "r", "i")), tmp_path)
    exp = read_exposure(paths, bands=["i", "g"])
    assert exp.bands == ("i", "g")
    np.testing.assert_array_equal(exp.sci[0], layers[0] + 20)
    with pytest.raises(InputError, match=r"image 'sim0' has no band z \(bands present: g, r, i\)"):
        read_exposure(paths, bands=["z"])


# --------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="nope_g.fits: no such file"):
        read_exposure(tmp_path / "nope_g.fits")


def test_not_a_fits_file(tmp_path):
    path = tmp_path / "notes_g.fits"
    path.write_text("this is not FITS\n" * 200)
    with pytest.raises(InputError, match="notes_g.fits: not a FITS file"):
        read_exposure(path)


# astropy warns about a short file and drops a header cut short; we turn both into InputError.
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
@pytest.mark.parametrize("compress", [False, True])
def test_truncated_data(tmp_path, layers, write_fits, compress):
    sci, msk, wgt = layers
    full = write_fits(tmp_path / "full_g.fits", [("SCI", sci, None), ("MSK", msk, None), ("WGT", wgt, None)],
                      compress=compress)
    with fits.open(full) as hdul:
        cut = hdul["WGT"].fileinfo()["datLoc"] + 100  # inside the last HDU's data
    path = tmp_path / "cut_g.fits"
    path.write_bytes(full.read_bytes()[:cut])
    with pytest.raises(InputError, match="cut_g.fits: truncated file: HDU #3 \\(WGT\\)"):
        read_exposure(path)


@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
def test_truncated_inside_a_header(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    full = write_fits(tmp_path / "full_g.fits", [("SCI", sci, None), ("MSK", msk, None)])
    with fits.open(full) as hdul:
        cut = hdul["MSK"].fileinfo()["hdrLoc"] + 500
    path = tmp_path / "cut_g.fits"
    path.write_bytes(full.read_bytes()[:cut])
    with pytest.raises(InputError, match="cut_g.fits: truncated or corrupt FITS file"):
        read_exposure(path)


@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
def test_trailing_zero_bytes_are_tolerated(tmp_path, layers, write_fits):
    path = write_fits(tmp_path / "img_g.fits", [("SCI", layers[0], None)])
    path.write_bytes(path.read_bytes() + bytes(1000))
    np.testing.assert_array_equal(read_exposure(path).sci[0], layers[0])


def test_no_sci_layer(tmp_path, layers, write_fits):
    _, msk, wgt = layers
    path = write_fits(tmp_path / "img_g.fits", [("MSK", msk, None), ("WGT", wgt, None)])
    with pytest.raises(InputError, match=r"img_g.fits: no SCI layer \(HDUs found: #0 PRIMARY, #1 MSK, #2 WGT\)"):
        read_exposure(path)


def test_bands_of_different_shapes(tmp_path, layers, write_fits):
    sci, _, _ = layers
    g = write_fits(tmp_path / "img_g.fits", [("SCI", sci, None)])
    r = write_fits(tmp_path / "img_r.fits", [("SCI", sci[:60], None)])
    with pytest.raises(InputError, match=r"bands have different shapes: g \(64, 32\) in .*img_g.fits "
                                         r"vs r \(60, 32\) in .*img_r.fits"):
        read_exposure([g, r])


def test_two_files_for_one_band(tmp_path, layers, write_fits):
    sci, _, _ = layers
    a = write_fits(tmp_path / "img_g.fits", [("SCI", sci, None)])
    b = write_fits(tmp_path / "img2.fits", [("SCI", sci, {"BAND": "g"})])
    with pytest.raises(InputError, match="two files for band g"):
        read_exposure([a, b])


def test_layers_of_different_shapes_in_one_file(tmp_path, layers, write_fits):
    sci, msk, _ = layers
    path = write_fits(tmp_path / "img_g.fits", [("SCI", sci, None), ("MSK", msk[:, :16], None)])
    with pytest.raises(InputError, match=r"the MSK layer has shape \(64, 16\) but the SCI layer has \(64, 32\)"):
        read_exposure(path)


def test_no_band_anywhere(tmp_path, layers, write_fits):
    path = write_fits(tmp_path / "field.fits", [("SCI", layers[0], None)])
    with pytest.raises(InputError, match="field.fits: cannot tell the band"):
        read_exposure(path)


def test_non_finite_pixels_are_masked_with_a_warning(tmp_path, layers, write_fits):
    sci, msk, wgt = layers
    sci = sci.copy()
    sci[1, 1] = np.nan
    sci[2, 3] = np.inf
    sci[10, 20] = -np.inf  # already flagged CRAY|STREAK: keeps its bits
    path = write_fits(tmp_path / "img_g.fits", [("SCI", sci, None), ("MSK", msk, None), ("WGT", wgt, None)])
    with pytest.warns(BadPixelsWarning, match=r"img_g.fits: 3 non-finite pixel\(s\)"):
        exp = read_exposure(path)
    bad = (np.array([1, 2, 10]), np.array([1, 3, 20]))
    assert (exp.sci[0][bad] == 0).all() and np.isfinite(exp.sci).all()
    assert (exp.wgt[0][bad] == 0).all()
    assert list(exp.msk[0][bad]) == [1, 1, 1 | 1024]  # BPM added, other bits kept
    assert np.count_nonzero(exp.msk[0] & 1) == 3
    assert exp.msk[0, 3, 4] == 16
    good = np.isfinite(sci)
    np.testing.assert_array_equal(exp.sci[0][good], sci[good])


def test_sky_noise_is_that_of_sky_and_noise_and_shared_through_select():
    from spacejunk.preprocess.normalise import sky_and_noise

    rng = np.random.default_rng(4)
    sci = (np.array([100.0, 50.0])[:, None, None] + rng.normal(0, [[[3.0]], [[7.0]]], (2, 64, 48))).astype(np.float32)
    msk = np.zeros(sci.shape, np.int32)
    msk[1, :10] = 1  # flagged rows left out
    sci[1, :10] = 1e6
    exp = Exposure("x", ("g", "r"), sci, msk, np.ones_like(sci))
    sky, noise = exp.sky_noise(1)
    assert (sky, noise) == pytest.approx(tuple(float(v) for v in sky_and_noise(sci[1], mask=msk[1])))
    assert sky == pytest.approx(50, abs=1) and noise == pytest.approx(7, rel=0.1)
    assert exp.select(["r"])._sky_noise == {"r": (sky, noise)}  # remembered, per band name
    assert exp.select(["g"]).sky_noise(0)[0] == pytest.approx(100, abs=1)
    assert set(exp._sky_noise) == {"g", "r"}  # what a selection measured, its parent knows
