import pytest

from spacejunk.categories import CATEGORIES, CATEGORY_BITS, DESDM_BITS, FOCAL_PLANE_CODES, check_category


def test_every_category_has_its_own_bit():
    assert set(CATEGORY_BITS) == set(CATEGORIES)
    bits = list(CATEGORY_BITS.values())
    assert len(set(bits)) == len(bits)
    assert all(b > 0 and (b & (b - 1)) == 0 and b < 2**31 for b in bits)


def test_desdm_values_are_reused():
    assert CATEGORY_BITS["satellite"] == DESDM_BITS["STREAK"] == 1024
    assert CATEGORY_BITS["cosmic-ray"] == DESDM_BITS["CRAY"] == 16
    assert CATEGORY_BITS["edge-bleed"] == DESDM_BITS["EDGEBLEED"] == 128


def test_focal_plane_codes_are_small_and_distinct():
    assert sorted(FOCAL_PLANE_CODES.values()) == [1, 2, 3]


@pytest.mark.parametrize("raw,norm", [("Cosmic Ray", "cosmic-ray"), ("edge_bleed", "edge-bleed"), ("ghost", "ghost")])
def test_check_category_normalises(raw, norm):
    assert check_category(raw) == norm


def test_check_category_rejects_unknown():
    with pytest.raises(ValueError, match="unknown category 'ufo'"):
        check_category("ufo")
