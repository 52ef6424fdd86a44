"""The Exposure (one image on one pixel grid, one band or several); reading and writing its FITS files."""

from __future__ import annotations

import glob
import logging
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from astropy.io import fits

from .._errors import BadPixelsWarning, InputError
from ..categories import DESDM_BITS
from ._atomic import atomic_path

__all__ = ["Exposure", "read_exposure", "write_exposure", "find_images", "BAND_ORDER"]

log = logging.getLogger("spacejunk")


@dataclass(frozen=True, eq=False)
class Exposure:
    """Aligned bands of one image with their DESDM layers.

    Attributes
    ----------
    name : str
        Image name: ``<image>`` of ``<image>_<band>.fits[.fz]``, or the DESDM file stem
        without ``.fits.fz`` (e.g. ``D00362921_r_c57_r2331p02_immasked``).
    bands : tuple of str
        Band names in layer order, e.g. ``("g", "r", "i")``.
    sci : ndarray, shape (n_bands, ny, nx), float32
        Science layer, ADU. Non-finite input pixels are replaced by 0 and flagged in ``msk``.
    msk : ndarray, shape (n_bands, ny, nx), int32
        DESDM bit mask (BPM 1, SATURATE 2, INTERP 4, CRAY 16, TRAIL 64, EDGEBLEED 128, ...).
    wgt : ndarray, shape (n_bands, ny, nx), float32
        Inverse variance; 0 where a pixel carries no information.
    headers : tuple of astropy.io.fits.Header
        The ``SCI`` header of each band.
    paths : tuple of Path
        The file each band was read from (empty for an in-memory exposure).
    """

    name: str
    bands: tuple[str, ...]
    sci: np.ndarray
    msk: np.ndarray
    wgt: np.ndarray
    headers: tuple[fits.Header, ...] = field(default=())
    paths: tuple[Path, ...] = field(default=())
    #: band -> (sky, noise) of :meth:`sky_noise`, computed once (the layers are not changed);
    #: shared with the exposures :meth:`select` makes of it
    _sky_noise: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        n = len(self.bands)
        for layer in ("sci", "msk", "wgt"):
            arr = getattr(self, layer)
            if arr.ndim != 3 or arr.shape[0] != n:
                raise ValueError(
                    f"Exposure {self.name!r}: {layer} must have shape (n_bands={n}, ny, nx), got {arr.shape}"
                )
        if not (self.sci.shape == self.msk.shape == self.wgt.shape):
            raise ValueError(f"Exposure {self.name!r}: sci, msk and wgt shapes differ")
        if len(set(self.bands)) != n:
            raise ValueError(f"Exposure {self.name!r}: repeated band in {self.bands}")

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx) of the pixel grid."""
        return tuple(self.sci.shape[1:])  # type: ignore[return-value]

    def band_index(self, band: str) -> int:
        """Layer index of ``band``; ValueError naming the bands present if absent."""
        try:
            return self.bands.index(band)
        except ValueError:
            raise ValueError(f"Exposure {self.name!r} has no band {band!r}; it has {', '.join(self.bands)}") from None

    def sky_noise(self, b: int) -> tuple[float, float]:
        """Robust sky level and noise of layer ``b`` (:func:`spacejunk.preprocess.sky_and_noise`,
        flagged pixels left out), computed on first use and remembered: every finder asks."""
        band = self.bands[b]
        if band not in self._sky_noise:
            from ..preprocess.normalise import sky_and_noise

            sky, noise = sky_and_noise(self.sci[b], mask=self.msk[b])
            self._sky_noise[band] = (float(sky), float(noise))
        return self._sky_noise[band]

    def select(self, bands) -> "Exposure":
        """A new Exposure with only ``bands`` (in that order). Its pixel arrays are views of
        this one's when ``bands`` are a run of its bands in order (all of them, most often:
        copying a CCD's three bands takes a quarter of a second), copies otherwise."""
        idx = [self.band_index(b) for b in bands]
        if idx and idx == list(range(idx[0], idx[0] + len(idx))):
            take = slice(idx[0], idx[0] + len(idx))
        else:
            take = idx
        out = Exposure(
            name=self.name,
            bands=tuple(self.bands[i] for i in idx),
            sci=self.sci[take],
            msk=self.msk[take],
            wgt=self.wgt[take],
            headers=tuple(self.headers[i] for i in idx) if self.headers else (),
            paths=tuple(self.paths[i] for i in idx) if self.paths else (),
        )
        # the same pixels per band: a selection and its parent share what they measure of them
        object.__setattr__(out, "_sky_noise", self._sky_noise)
        return out

    @property
    def combined_mask(self) -> np.ndarray:
        """Bitwise OR of the bands' ``msk`` layers, shape (ny, nx), int32."""
        return np.bitwise_or.reduce(self.msk, axis=0)


# --------------------------------------------------------------------------- names and bands
#: Bands in order of wavelength; bands not listed here follow, alphabetically.
BAND_ORDER: tuple[str, ...] = ("u", "g", "r", "i", "z", "Y")

#: Suffixes of the files we read, longest first (``.fits.fz`` before ``.fz``).
_SUFFIXES: tuple[str, ...] = (".fits.fz", ".fits.gz", ".fits", ".fit", ".fz")
#: Suffixes collected when a folder or a glob pattern is expanded.
_IMAGE_SUFFIXES: tuple[str, ...] = (".fits.fz", ".fits", ".fz")
#: Our own outputs, skipped when a folder or a glob pattern is expanded.
_OUTPUT_SUFFIXES: tuple[str, ...] = ("_mask.fits", "_truth.fits", "_mask.fits.fz", "_truth.fits.fz")

_DESDM_RE = re.compile(r"^D\d{8}_(?P<band>[A-Za-z]+)_c\d+_.+$")
_BAND_SUFFIX_RE = re.compile(r"^(?P<image>.+)_(?P<band>[grizuYy]|VR|vr)$")
_GLOB_CHARS = re.compile(r"[*?\[]")
_CANONICAL_BANDS = {"u": "u", "g": "g", "r": "r", "i": "i", "z": "z", "y": "Y", "vr": "VR"}


def _normalise_band(band: str) -> str:
    """``"y"`` -> ``"Y"``, ``" R "`` -> ``"r"``; bands we do not know are only stripped."""
    text = str(band).strip()
    return _CANONICAL_BANDS.get(text.lower(), text)


def _band_key(band: str) -> tuple[int, int, str]:
    """Sort key: wavelength order of :data:`BAND_ORDER`, then other bands alphabetically."""
    if band in BAND_ORDER:
        return (0, BAND_ORDER.index(band), band)
    return (1, 0, band)


def _stem(path: Path) -> str:
    """File name without ``.fits``, ``.fits.fz``, ``.fz``, ... ."""
    name = path.name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _name_and_band(path: Path) -> tuple[str, str | None]:
    """Image name and band told by a file name (band None where the name does not tell).

    ``D00362921_r_c57_r2331p02_immasked.fits.fz`` -> (``D00362921_r_c57_r2331p02_immasked``, ``r``);
    ``sim0_g.fits`` -> (``sim0``, ``g``); ``field.fits`` -> (``field``, None).
    """
    stem = _stem(path)
    match = _DESDM_RE.match(stem)
    if match:
        return stem, _normalise_band(match["band"])
    match = _BAND_SUFFIX_RE.match(stem)
    if match:
        return match["image"], _normalise_band(match["band"])
    return stem, None


def _common_name(names: Sequence[str]) -> str:
    """The shared image name of several files, or their common prefix, or the first name."""
    if len(set(names)) == 1:
        return names[0]
    prefix = os.path.commonprefix(list(names)).rstrip("_-.")
    return prefix or names[0]


# --------------------------------------------------------------------------- find_images
def _is_image_file(path: Path) -> bool:
    name = path.name.lower()
    return (path.is_file() and not name.startswith(".") and name.endswith(_IMAGE_SUFFIXES)
            and not name.endswith(_OUTPUT_SUFFIXES))


def _list_folder(folder: Path) -> list[Path]:
    """FITS images directly in ``folder`` (not recursive); nothing from a ``truth/`` folder."""
    if folder.name == "truth":
        return []
    return sorted(p for p in folder.iterdir() if _is_image_file(p))


def find_images(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> dict[str, list[Path]]:
    """Group files, folders and glob patterns into images.

    Parameters
    ----------
    paths : str or path-like, or a sequence of them
        Files, folders (their ``*.fits``, ``*.fits.fz`` and ``*.fz`` files, not recursive)
        or glob patterns (anything containing ``*``, ``?`` or ``[``).

    Returns
    -------
    dict of str to list of Path
        Image name -> its files, names sorted, files sorted. A DESDM single-epoch file
        (``D00362921_r_c57_r2331p02_immasked.fits.fz``) is an image on its own, named by
        its stem; ``<image>_<band>.fits[.fz]`` files (band g, r, i, z, Y, u or VR) are
        grouped by ``<image>``; any other file is an image on its own, named by its stem.

    Raises
    ------
    InputError
        A path that does not exist, a pattern or folder without FITS files, or two
        images of the same name in different folders.

    Notes
    -----
    When a folder or a pattern is expanded, our own outputs (``*_mask.fits``,
    ``*_truth.fits``) and the contents of a folder named ``truth`` are skipped; files
    named one by one are always taken.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    files: list[Path] = []
    for item in paths:
        text = os.fspath(item)
        if _GLOB_CHARS.search(text) and not Path(text).exists():
            found: list[Path] = []
            for match in sorted(glob.glob(text)):
                p = Path(match)
                if p.is_dir():
                    found.extend(_list_folder(p))
                elif _is_image_file(p):
                    found.append(p)
            if not found:
                raise InputError(text, "no FITS files (*.fits, *.fits.fz, *.fz) match this pattern")
            files.extend(found)
        elif Path(text).is_dir():
            found = _list_folder(Path(text))
            if not found:
                why = " (a truth/ folder holds truth masks, not images)" if Path(text).name == "truth" else ""
                raise InputError(text, f"no FITS files (*.fits, *.fits.fz, *.fz) in this folder{why}")
            files.extend(found)
        elif Path(text).exists():
            files.append(Path(text))
        else:
            raise InputError(text, "no such file or folder")

    groups: dict[tuple[Path, str], list[Path]] = {}
    seen: set[Path] = set()
    for path in files:
        key_path = path.resolve()
        if key_path in seen:
            continue
        seen.add(key_path)
        name, _ = _name_and_band(path)
        groups.setdefault((key_path.parent, name), []).append(path)

    images: dict[str, list[Path]] = {}
    folders: dict[str, Path] = {}
    for (folder, name), group in groups.items():
        if name in images:
            raise InputError(group[0], f"two images named {name!r}: one in {folders[name]}, one in {folder}; "
                                       "output file names would collide")
        images[name] = sorted(group)
        folders[name] = folder
    return {name: images[name] for name in sorted(images)}


# --------------------------------------------------------------------------- read_exposure
@dataclass(frozen=True)
class _Layers:
    """What the header pass learned about one file."""

    path: Path
    name: str
    band: str
    shape: tuple[int, int]
    header: fits.Header
    hdus: dict[str, int]


_COMPRESSED_FILE_SUFFIXES = (".gz", ".bz2", ".zip")


def _open(path: Path) -> fits.HDUList:
    """Open ``path`` with every header read; InputError if it is missing or not FITS."""
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not a FITS file")
    # No warnings.catch_warnings here: it is not thread-safe. Truncation is found by
    # _check_complete from the sizes instead of from astropy's warnings.
    try:
        return fits.open(path, memmap=True, lazy_load_hdus=False)
    except (OSError, ValueError, TypeError, EOFError, IndexError) as err:
        raise InputError(path, f"not a FITS file ({err})") from None


def _data_bytes(hdu) -> int | None:
    """Bytes the data of ``hdu`` occupies in its file (without padding), or None if unknown."""
    if isinstance(hdu, fits.CompImageHDU):
        table = getattr(hdu, "_bintable", None)
        if table is None:
            return None
        h = table.header
        return int(h.get("NAXIS1", 0)) * int(h.get("NAXIS2", 0)) + int(h.get("PCOUNT", 0))
    return int(hdu.size)


def _check_complete(path: Path, hdul: fits.HDUList) -> None:
    """InputError if the file is shorter than its headers say, or has bytes after its last HDU.

    A download cut inside the data of an HDU leaves that HDU short; one cut inside a
    header leaves bytes that astropy could not read as an HDU (it only warns and drops
    them). Trailing zero bytes are tolerated.
    """
    if path.name.lower().endswith(_COMPRESSED_FILE_SUFFIXES):
        return  # offsets refer to the decompressed stream
    file_size = path.stat().st_size
    end_of_last = 0
    for index, hdu in enumerate(hdul):
        info = hdu.fileinfo()
        n_bytes = _data_bytes(hdu)
        if n_bytes is not None and info["datLoc"] + n_bytes > file_size:
            raise InputError(path, f"truncated file: HDU #{index} ({hdu.name or 'no EXTNAME'}) needs "
                                   f"{info['datLoc'] + n_bytes} bytes, the file has {file_size}")
        end_of_last = max(end_of_last, info["datLoc"] + info["datSpan"])
    if file_size > end_of_last:
        with open(path, "rb") as f:
            f.seek(end_of_last)
            while block := f.read(1 << 20):
                if block.strip(b"\0"):
                    raise InputError(path, f"truncated or corrupt FITS file: {file_size - end_of_last} bytes after "
                                           f"HDU #{len(hdul) - 1} are not a complete HDU (a header cut short?)")


def _find_layers(hdul: fits.HDUList) -> dict[str, int]:
    """Index of the first image HDU named SCI, MSK and WGT (EXTNAME, any case, any order)."""
    found: dict[str, int] = {}
    for index, hdu in enumerate(hdul):
        name = str(hdu.name).strip().upper()
        if name in ("SCI", "MSK", "WGT") and name not in found and hdu.is_image:
            found[name] = index
    return found


def _hdu_names(hdul: fits.HDUList) -> str:
    return ", ".join(f"#{i} {hdu.name or '(no EXTNAME)'}" for i, hdu in enumerate(hdul))


def _scan(path: Path) -> _Layers:
    """Header pass over one file: its band, shape and layers, without reading pixels."""
    name, file_band = _name_and_band(path)
    with _open(path) as hdul:
        _check_complete(path, hdul)
        layers = _find_layers(hdul)
        if "SCI" not in layers:
            raise InputError(path, f"no SCI layer (HDUs found: {_hdu_names(hdul)})")
        sci = hdul[layers["SCI"]]
        shape = tuple(sci.shape)
        if len(shape) != 2:
            raise InputError(path, f"the SCI layer must be a 2-D image, it has shape {shape}")
        for layer in ("MSK", "WGT"):
            if layer in layers and tuple(hdul[layers[layer]].shape) != shape:
                raise InputError(path, f"the {layer} layer has shape {tuple(hdul[layers[layer]].shape)} "
                                       f"but the SCI layer has {shape}")
        header = sci.header.copy()
        primary = hdul[0].header
    band = None
    for source in (header, primary):
        if str(source.get("BAND", "")).strip():
            band = _normalise_band(source["BAND"])
            break
    if band is None:
        band = file_band
    elif file_band is not None and file_band != band:
        log.warning("%s: header says BAND = %r, the file name says %r; using %r", path, band, file_band, band)
    if band is None:
        raise InputError(path, "cannot tell the band: no BAND keyword in the SCI or primary header, "
                               "and the file name does not end in _<band> (g, r, i, z, Y, u, VR)")
    return _Layers(path, name, band, shape, header, layers)


def _read_layer(path: Path, hdu, layer: str, out: np.ndarray) -> None:
    """Copy the pixels of ``hdu`` (the ``layer`` layer) into ``out``, converting to its dtype."""
    try:
        data = hdu.data
        if data is None or data.shape != out.shape:
            raise InputError(path, f"the {layer} layer has no pixels of shape {out.shape}")
        np.copyto(out, data, casting="unsafe")
    except InputError:
        raise
    except (OSError, TypeError, ValueError, EOFError, IndexError) as err:
        raise InputError(path, f"cannot read the {layer} layer: truncated or corrupt file ({err})") from None


def _mask_bad_pixels(path: Path, sci: np.ndarray, msk: np.ndarray, wgt: np.ndarray) -> None:
    """Set non-finite SCI/WGT pixels to 0, weight 0, flag BPM; warn with the count."""
    bad = ~np.isfinite(sci)
    bad |= ~np.isfinite(wgt)
    n_bad = int(np.count_nonzero(bad))
    if n_bad:
        sci[bad] = 0.0
        wgt[bad] = 0.0
        msk[bad] |= DESDM_BITS["BPM"]
        warnings.warn(BadPixelsWarning(f"{path}: {n_bad} non-finite pixel(s) in SCI or WGT set to 0, "
                                       "weight 0, flagged BPM in MSK"), stacklevel=3)


def read_exposure(path_or_paths: str | os.PathLike | Iterable[str | os.PathLike], *,
                  bands: Sequence[str] | None = None) -> Exposure:
    """Read one image: aligned per-band files, or one DESDM single-epoch CCD file.

    Parameters
    ----------
    path_or_paths : str or path-like, or a sequence of them
        The image's files, one per band: ``<image>_<band>.fits[.fz]`` or a DESDM file
        such as ``D00362921_r_c57_r2331p02_immasked.fits.fz``. Each has the HDUs ``SCI``,
        ``MSK`` and ``WGT`` (found by EXTNAME, in any order, plain or tile-compressed).
    bands : sequence of str, optional
        Bands to read, in this order. Default: all, in wavelength order (u, g, r, i,
        z, Y, then others alphabetically). Only the files of these bands are read.

    Returns
    -------
    Exposure
        ``sci`` float32, ``msk`` int32, ``wgt`` float32, each (n_bands, ny, nx).

    Raises
    ------
    InputError
        Naming the file: missing, not FITS, truncated, without a SCI layer, with no
        band to be told, two files for one band, bands of different shapes, or a band
        asked for that is not there.

    Warns
    -----
    BadPixelsWarning
        For each file with non-finite SCI or WGT pixels: they are set to 0, given
        weight 0 and flagged BPM (1) in ``msk``.

    Notes
    -----
    The band is the ``BAND`` keyword of the SCI (or primary) header, else told by the
    file name. A missing MSK layer reads as 0 (no mask), a missing WGT layer as 1.
    Pixels are copied once, from the file (memory-mapped where not compressed) into the
    native-endian output arrays.
    """
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths = [Path(path_or_paths)]
    else:
        paths = [Path(p) for p in path_or_paths]
    if not paths:
        raise ValueError("path_or_paths: expected at least one file, got none")

    by_band: dict[str, _Layers] = {}
    for path in paths:
        layers = _scan(path)
        if layers.band in by_band:
            raise InputError(path, f"two files for band {layers.band}: {by_band[layers.band].path} and {path}")
        by_band[layers.band] = layers
    name = _common_name([layers.name for layers in by_band.values()])

    if bands is None:
        chosen = sorted(by_band, key=_band_key)
    else:
        if isinstance(bands, str):
            raise TypeError(f"bands: expected a sequence of band names such as ('g', 'r'), got the string {bands!r}")
        chosen = [_normalise_band(b) for b in bands]
        if not chosen:
            raise ValueError("bands: expected at least one band, got none")
        if len(set(chosen)) != len(chosen):
            raise ValueError(f"bands: repeated band in {tuple(bands)}")
        missing = [b for b in chosen if b not in by_band]
        if missing:
            present = ", ".join(sorted(by_band, key=_band_key))
            where = ", ".join(str(p) for p in paths)
            raise InputError(where, f"image {name!r} has no band {', '.join(missing)} (bands present: {present})")

    first = by_band[chosen[0]]
    for band in chosen[1:]:
        other = by_band[band]
        if other.shape != first.shape:
            raise InputError(other.path, f"bands have different shapes: {first.band} {first.shape} in {first.path} "
                                         f"vs {other.band} {other.shape} in {other.path}")

    shape = (len(chosen), *first.shape)
    sci = np.empty(shape, dtype=np.float32)
    msk = np.zeros(shape, dtype=np.int32)
    wgt = np.ones(shape, dtype=np.float32)
    for i, band in enumerate(chosen):
        layers = by_band[band]
        with _open(layers.path) as hdul:
            for layer, out in (("SCI", sci[i]), ("MSK", msk[i]), ("WGT", wgt[i])):
                if layer in layers.hdus:
                    _read_layer(layers.path, hdul[layers.hdus[layer]], layer, out)
        _mask_bad_pixels(layers.path, sci[i], msk[i], wgt[i])

    return Exposure(name=name, bands=tuple(chosen), sci=sci, msk=msk, wgt=wgt,
                    headers=tuple(by_band[b].header for b in chosen),
                    paths=tuple(by_band[b].path for b in chosen))


# --------------------------------------------------------------------------- write_exposure
_STRUCTURAL_RE = re.compile(
    r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|GROUPS|BSCALE|BZERO|BLANK|EXTNAME|EXTVER|"
    r"CHECKSUM|DATASUM|TFIELDS|THEAP|Z(IMAGE|SIMPLE|TENSION|BITPIX|NAXIS\d*|TILE\d+|CMPTYPE|NAME\d+|VAL\d+|"
    r"MASKCMP|QUANTIZ|DITHER0|EXTEND|BLOCKED|PCOUNT|GCOUNT|HECKSUM|DATASUM|BLANK|SCALE|ZERO))$"
)


def _clean_header(header: fits.Header | None) -> fits.Header:
    """A copy of ``header`` without the keywords that describe its HDU's structure or compression."""
    out = fits.Header()
    if header is None:
        return out
    for card in header.cards:
        if not _STRUCTURAL_RE.match(card.keyword):
            out.append(card, end=True)
    return out


def _mask_dtype(msk: np.ndarray) -> type:
    """int16 where every value fits (DESDM's own type), else int32."""
    if msk.size == 0:
        return np.int16
    lo, hi = int(msk.min()), int(msk.max())
    info = np.iinfo(np.int16)
    return np.int16 if info.min <= lo and hi <= info.max else np.int32


#: Float compression: RICE, quantised in steps of noise/16, zeros kept exact (SUBTRACTIVE_DITHER_2),
#: dither seeded from the data so that the same image gives the same file.
_FLOAT_COMPRESSION = dict(compression_type="RICE_1", quantize_level=16.0, quantize_method=2, dither_seed=-1)

#: Relative step of the weight map's quantisation. A weight map is smooth, so a step
#: tied to its pixel-to-pixel noise (as for SCI) would be needlessly fine and the file
#: large; 1e-3 of the median weight keeps it far below the weight's own uncertainty.
_WGT_RELATIVE_STEP = 1e-3


def _wgt_compression(wgt: np.ndarray) -> dict:
    positive = wgt[wgt > 0]
    step = float(np.median(positive[:: max(1, positive.size // 100_000)])) * _WGT_RELATIVE_STEP if positive.size else 1.0
    return {**_FLOAT_COMPRESSION, "quantize_level": -step}  # negative: an absolute step (astropy, CFITSIO)


def _layer_hdus(sci: np.ndarray, msk: np.ndarray, wgt: np.ndarray, header: fits.Header, *,
                compress: bool) -> list:
    msk = msk.astype(_mask_dtype(msk), copy=False)
    if not compress:
        return [fits.ImageHDU(sci, header=header, name="SCI"), fits.ImageHDU(msk, name="MSK"),
                fits.ImageHDU(wgt, name="WGT")]
    plio_ok = msk.size == 0 or (int(msk.min()) >= 0 and int(msk.max()) < 2**24)
    return [fits.CompImageHDU(sci, header=header, name="SCI", **_FLOAT_COMPRESSION),
            fits.CompImageHDU(msk, name="MSK", compression_type="PLIO_1" if plio_ok else "GZIP_2"),
            fits.CompImageHDU(wgt, name="WGT", **_wgt_compression(wgt))]


def write_exposure(exposure: Exposure, out_dir: str | os.PathLike, *, compress: bool = False) -> list[Path]:
    """Write one FITS file per band, ``<out_dir>/<name>_<band>.fits`` (or ``.fits.fz``).

    Parameters
    ----------
    exposure : Exposure
        The image to write.
    out_dir : str or path-like
        Folder, created if needed.
    compress : bool, default False
        Tile-compress: RICE for SCI (quantised in steps of noise/16) and WGT (steps of
        1e-3 of its median), zeros kept exact; PLIO for MSK (lossless); the files are
        named ``.fits.fz``.

    Returns
    -------
    list of Path
        The files written, in band order.

    Notes
    -----
    Each file has an empty primary HDU carrying ``BAND``, then ``SCI`` (float32, the
    exposure's header for the band without structural keywords, plus ``BAND``), ``MSK``
    (int16 where the values fit, else int32) and ``WGT`` (float32). Uncompressed files
    read back exactly. A one-band exposure with a DESDM name
    (``D00362921_r_c57_r2331p02_immasked``) is written as ``<name>.fits[.fz]``, so that
    it reads back under the same name. Each file is written atomically.
    """
    name = exposure.name
    if not name or "/" in name or os.sep in name:
        raise ValueError(f"exposure.name: expected a file name without folders, got {name!r}")
    out_dir = Path(out_dir)
    suffix = ".fits.fz" if compress else ".fits"
    desdm = len(exposure.bands) == 1 and _DESDM_RE.match(name) is not None
    written: list[Path] = []
    for i, band in enumerate(exposure.bands):
        header = _clean_header(exposure.headers[i] if exposure.headers else None)
        header["BAND"] = (band, "filter band")
        primary = fits.PrimaryHDU()
        primary.header["BAND"] = (band, "filter band")
        hdus = _layer_hdus(exposure.sci[i], exposure.msk[i], exposure.wgt[i], header, compress=compress)
        path = out_dir / (f"{name}{suffix}" if desdm else f"{name}_{band}{suffix}")
        with atomic_path(path) as tmp:
            fits.HDUList([primary, *hdus]).writeto(tmp, overwrite=True)
        written.append(path)
    return written
