"""Detect artifacts on one image, and on batches of images (local processes or Dask).

The per-image work (:func:`detect_exposure`) is pure: arrays in, an
:class:`ImageResult` out. :func:`process_image` adds the edges (read the files, write
the outputs atomically) and never raises for bad input: it returns a record saying what
went wrong. :func:`detect` runs a batch, resumable and safe to kill at any moment.

Outputs in ``out`` (DESIGN.md): ``artifacts.csv``, ``tiles.csv``, ``summary.json``,
and per image ``<image>_mask.fits``, ``<image>_scores.fits``, ``<image>.reg`` and
``<image>.png``. Each image's rows of the two catalogs are first written to
``out/parts/<image>.artifacts.csv`` and ``out/parts/<image>.tiles.csv``; the
catalogs are rebuilt from all parts at the end of every run, so a killed run loses
nothing that was finished and a re-run skips finished images.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from ._errors import InputError, NoArtifactsWarning
from .io import ARTIFACT_COLUMNS, Artifact, Exposure
from .io._atomic import atomic_path

__all__ = ["DetectSettings", "ImageResult", "DetectRun", "checkpoint_task", "detect_exposure", "process_image", "detect"]

log = logging.getLogger("spacejunk")

_PARTS = "parts"


@dataclass(frozen=True)
class DetectSettings:
    """How to detect; frozen so that Dask workers can share one instance.

    Attributes
    ----------
    classifier, detector : str or None
        Checkpoints of the user's own replacing the shipped tile classifier / detector;
        None for the shipped models.
    threshold : float or None
        Score threshold in [0, 1] for both models; None for each model's own default.
    bands : tuple of str or None
        Bands to use; None for every band the image has that the models know.
    write_png : bool
        Write ``<image>.png`` previews.
    overwrite : bool
        Redo images whose outputs already exist.
    png_scale : float
        Scale of the PNG preview relative to the image (0.25: 512 x 1024 for a CCD).
    """

    classifier: str | None = None
    detector: str | None = None
    threshold: float | None = None
    bands: tuple[str, ...] | None = None
    write_png: bool = True
    overwrite: bool = False
    png_scale: float = 0.25

    @classmethod
    def from_models(cls, model=None, **kwargs) -> "DetectSettings":
        """Settings using the checkpoints in ``model`` (a path, a list of paths or None).

        Each checkpoint replaces the shipped model of its task (its ``meta["task"]``,
        :func:`checkpoint_task`); a bad file raises :class:`InputError` here, once, rather
        than once per image. ``kwargs`` are the other attributes.
        """
        models = {"classifier": None, "detector": None}
        for path in [model] if isinstance(model, (str, os.PathLike)) else list(model or []):
            models[checkpoint_task(path)] = str(path)
        if kwargs.get("bands") is not None:
            kwargs["bands"] = tuple(kwargs["bands"])
        return cls(**models, **kwargs)


@dataclass
class ImageResult:
    """What :func:`detect_exposure` finds on one image.

    Attributes
    ----------
    name : str
        Image name.
    shape : tuple of int
        (ny, nx).
    artifacts : list of Artifact
        Detected artifacts, boxes in pixels, scores in [0, 1].
    grid : ndarray, shape (n, 4), int
        Classification tiles ``(x0, y0, x1, y1)`` (200-px grid from (0, 0)).
    tile_scores : ndarray, shape (n,), float
        Classifier probability of each tile.
    seconds : dict
        Time spent per stage.
    trails : list of Trail
        The straight trails behind the ``satellite`` and ``airplane`` artifacts (their
        pixels, not their boxes, go into the mask).
    """

    name: str
    shape: tuple[int, int]
    artifacts: list[Artifact]
    grid: np.ndarray
    tile_scores: np.ndarray
    seconds: dict = field(default_factory=dict)
    trails: list = field(default_factory=list)

    def mask(self) -> np.ndarray:
        """The ``<image>_mask.fits`` layer: each artifact's box, a trail's own pixels for a
        satellite or an airplane found by the trail finder (its box would cover most of a CCD),
        and the region of an artifact that knows its pixels (a ``pixels(shape)`` method, as a
        ghost disc's :class:`~spacejunk.predict.ghost_discs.DiscArtifact`)."""
        from .categories import CATEGORY_BITS
        from .predict.trails import trail_mask
        from .stitch import artifacts_to_mask

        def key(box):
            return tuple(round(float(v), 3) for v in box)

        # a satellite or an airplane on a trail's box is that trail, under either name (the
        # detector reports each trail under the other name too, at a lower score)
        trails = {key(t.box(self.shape)): t for t in self.trails}
        lines = [a for a in self.artifacts if a.category in ("satellite", "airplane") and key(a.box) in trails]
        own = [a for a in self.artifacts if hasattr(a, "pixels")]
        on_trails = {id(a) for a in lines}
        mask = artifacts_to_mask([a for a in self.artifacts if not hasattr(a, "pixels")
                                  and id(a) not in on_trails], self.shape)
        for a in lines:
            mask[trail_mask([trails[key(a.box)]], self.shape)] |= CATEGORY_BITS[a.category]
        for a in own:
            mask[a.pixels(self.shape)] |= CATEGORY_BITS[a.category]
        return mask


@dataclass
class DetectRun:
    """A batch's results: one record per image, and the summary written to ``summary.json``."""

    records: list[dict]
    summary: dict


# ----------------------------------------------------------------------------- models
def _load_models(settings: DetectSettings):
    """(classifier, classifier_meta, detector, detector_meta); each loader caches per process."""
    from .models.registry import load_checkpoint
    from .predict.classifier import _prepare, load_default_classifier
    from .predict.detector import load_detector

    if settings.classifier is None:
        classifier, classifier_meta = load_default_classifier()
    else:
        classifier, classifier_meta = _checked(settings.classifier, "classifier", load_checkpoint)
        classifier = _prepare(classifier)
    detector, detector_meta = _checked(settings.detector, "detector", load_detector)
    return classifier, classifier_meta, detector, detector_meta


def _checked(path: str | None, task: str, load: Callable):
    model, meta = load(path)
    if meta.get("task", task) != task:
        raise InputError(path, f"this is a {meta.get('task')} checkpoint, not a {task}")
    return model, meta


def checkpoint_task(path: str | os.PathLike) -> str:
    """``"classifier"`` or ``"detector"``: what the checkpoint at ``path`` is (its ``meta["task"]``)."""
    from .models.registry import load_checkpoint

    _, meta = load_checkpoint(path)
    task = meta.get("task")
    if task not in ("classifier", "detector"):
        raise InputError(path, f"checkpoint task is {task!r}; spacejunk detect takes a 'classifier' or 'detector'")
    return task


# ----------------------------------------------------------------------------- one image
def detect_exposure(exposure: Exposure, *, settings: DetectSettings | None = None) -> ImageResult:
    """Classify the tiles of ``exposure`` and detect its artifacts.

    Parameters
    ----------
    exposure : Exposure
        The image, any size, any subset of the bands the models were trained on.
    settings : DetectSettings, optional
        Model choice, threshold and bands; defaults to the shipped models.

    Returns
    -------
    ImageResult
        Artifacts (possibly none) and tile scores.
    """
    from .predict.classifier import classify_exposure
    from .predict.detector import detect_exposure as detect_boxes
    from .predict.finders import in_threads, run_finders
    from .predict.trails import find_trails, settings_from_meta

    settings = settings or DetectSettings()
    classifier, classifier_meta, detector, detector_meta = _load_models(settings)
    if settings.bands is not None:
        exposure = exposure.select(settings.bands)
    seconds = {}
    # The finders run once, for both models (those either asks for).
    t0 = time.perf_counter()
    wants = [settings_from_meta(classifier_meta), settings_from_meta(detector_meta)]
    trail_settings = next((w for w in wants if w is not None), None)
    trails, found = in_threads([lambda: find_trails(exposure, trail_settings) if trail_settings is not None else [],
                                lambda: run_finders(exposure, detector_meta)], exposure=exposure)
    found = run_finders(exposure, classifier_meta, found) | found
    t1 = time.perf_counter()
    tiles = classify_exposure(exposure, model=classifier, meta=classifier_meta, threshold=settings.threshold,
                              trails=trails if wants[0] is not None else False, found=found)
    t2 = time.perf_counter()
    artifacts = detect_boxes(exposure, model=detector, meta=detector_meta, threshold=settings.threshold,
                             trails=trails if wants[1] is not None else False, found=found)
    t3 = time.perf_counter()
    seconds["finders"], seconds["classify"], seconds["detect"] = t1 - t0, t2 - t1, t3 - t2
    return ImageResult(exposure.name, exposure.shape, list(artifacts), np.asarray(tiles.grid),
                       np.asarray(tiles.scores, dtype=float), seconds, trails=list(trails or []))


def _outputs(out: Path, name: str, write_png: bool) -> list[Path]:
    """Every file that exists once image ``name`` is done (the marker files come last)."""
    files = [out / f"{name}_mask.fits", out / f"{name}_scores.fits", out / f"{name}.reg"]
    if write_png:
        files.append(out / f"{name}.png")
    files += [out / _PARTS / f"{name}.tiles.csv", out / _PARTS / f"{name}.artifacts.csv"]
    return files


def _write_image_outputs(exposure: Exposure, result: ImageResult, out: Path, settings: DetectSettings) -> None:
    """Write one image's outputs, each atomically; the catalog part last (it marks the image done)."""
    from .io.outputs import write_artifacts, write_mask_fits, write_regions, write_tiles
    from .stitch import tiles_to_score_map

    name = result.name
    write_mask_fits(out / f"{name}_mask.fits", result.mask())
    _write_score_map(out / f"{name}_scores.fits", tiles_to_score_map(result.grid, result.tile_scores, result.shape))
    write_regions(out / f"{name}.reg", result.artifacts)
    if settings.write_png:
        from .preprocess import make_rgb
        from .preprocess.draw import draw_artifacts, save_png

        rgb = make_rgb(exposure, scale=settings.png_scale)
        save_png(out / f"{name}.png", draw_artifacts(rgb, result.artifacts, scale=settings.png_scale))
    write_tiles(out / _PARTS / f"{name}.tiles.csv", name, result.grid, result.tile_scores)
    write_artifacts(out / _PARTS / f"{name}.artifacts.csv", result.artifacts)


def _write_score_map(path: Path, score_map: np.ndarray) -> None:
    """Full-size tile-probability map, losslessly compressed (it is piecewise constant)."""
    from astropy.io import fits

    hdu = fits.CompImageHDU(score_map.astype(np.float32), name="SCORE", compression_type="GZIP_2",
                            quantize_level=0.0)
    hdu.header["COMMENT"] = "spacejunk tile classifier probability, max over overlapping tiles"
    with atomic_path(path) as tmp:
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(tmp, overwrite=True)


def process_image(name: str, files: Sequence[str | os.PathLike], out: str | os.PathLike,
                  settings: DetectSettings) -> dict:
    """Read, detect and write one image; never raises for bad input.

    Returns
    -------
    dict
        ``{"image", "status" ("done" | "skipped" | "failed"), "artifacts", "seconds", "error"}``,
        with ``error`` = ``{"path", "reason"}`` when failed.
    """
    from .io import read_exposure

    out = Path(out)
    record = {"image": name, "files": [str(f) for f in files], "status": "done", "artifacts": 0,
              "seconds": {}, "error": None}
    if not settings.overwrite and all(p.exists() for p in _outputs(out, name, settings.write_png)):
        record["status"] = "skipped"
        record["artifacts"] = _count_rows(out / _PARTS / f"{name}.artifacts.csv")
        return record
    t0 = time.perf_counter()
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NoArtifactsWarning)
            exposure = read_exposure(files, bands=settings.bands)
            t1 = time.perf_counter()
            result = detect_exposure(exposure, settings=replace(settings, bands=None))
            t2 = time.perf_counter()
            _write_image_outputs(exposure, result, out, settings)
            t3 = time.perf_counter()
    except InputError as err:
        record.update(status="failed", error={"path": err.path or name, "reason": err.problem})
        return record
    except Exception as err:  # a bug or an unforeseen file problem must not stop the batch
        log.debug("%s", traceback.format_exc())
        record.update(status="failed", error={"path": str(files[0]) if files else name,
                                              "reason": f"{type(err).__name__}: {err}"})
        return record
    record["artifacts"] = len(result.artifacts)
    record["seconds"] = {"read": t1 - t0, **result.seconds, "write": t3 - t2, "total": t3 - t0}
    return record


def _count_rows(path: Path) -> int:
    with open(path, newline="") as fh:
        return max(sum(1 for _ in fh) - 1, 0)


# ----------------------------------------------------------------------------- a batch
def detect(paths: str | os.PathLike | Iterable[str | os.PathLike], *, out: str | os.PathLike,
           model: str | os.PathLike | Sequence[str | os.PathLike] | None = None, threshold: float | None = None, bands: Sequence[str] | None = None,
           write_png: bool = True, overwrite: bool = False, workers: int = 1, scheduler: str | None = None,
           quiet: bool = False) -> DetectRun:
    """Detect artifacts in every image found under ``paths`` and write the outputs to ``out``.

    Parameters
    ----------
    paths : path, glob pattern, or iterable of them
        Image files, folders or glob patterns, grouped into images by DESIGN.md's naming rule.
    out : path
        Output folder (created).
    model : path or list of paths, optional
        Checkpoints of your own (a classifier, a detector or one of each; each file's
        metadata says which) replacing the shipped models.
    threshold, bands, write_png, overwrite
        See :class:`DetectSettings`.
    workers : int
        Images processed in parallel on this machine (Dask ``LocalCluster`` when > 1).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``) to send the work to.
    quiet : bool
        No progress bar.

    Returns
    -------
    DetectRun
        Per-image records and the summary (``images``, ``done``, ``skipped``, ``failed``,
        ``artifacts``, ``seconds``, ``errors``), also written to ``out/summary.json``.

    Notes
    -----
    A bad image (unreadable, truncated, no ``SCI``, bands of different shapes) is reported
    in ``summary["errors"]`` and counted as failed; the others are processed. Every file
    is written under a temporary name and renamed, so a killed run leaves only whole
    files, and the same call again resumes where it stopped.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    settings = DetectSettings.from_models(model, threshold=threshold, bands=bands, write_png=write_png,
                                          overwrite=overwrite)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / _PARTS).mkdir(exist_ok=True)
    images, missing = _find(paths)
    t0 = time.perf_counter()
    jobs = [(name, [str(f) for f in files]) for name, files in images.items()]
    if scheduler is not None or workers > 1:
        records = _run_dask(jobs, out, settings, workers=workers, scheduler=scheduler, quiet=quiet)
    else:
        records = _run_local(jobs, out, settings, quiet=quiet)
    records = missing + records
    _write_catalogs(out)
    summary = _summarise(records, time.perf_counter() - t0)
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n")
    for rec in records:
        if rec["status"] == "failed":
            log.error("%s: %s", rec["error"]["path"], rec["error"]["reason"])
    log.info("%d images: %d done, %d skipped, %d failed; %d artifacts -> %s", summary["images"], summary["done"],
             summary["skipped"], summary["failed"], summary["artifacts"], out)
    return DetectRun(records, summary)


def _progress(total: int, quiet: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="image", disable=quiet, desc="detect")


def _tick(bar, record: dict, counts: dict) -> None:
    """Advance the progress bar, showing the running count of artifacts and failures."""
    counts["artifacts"] += record["artifacts"]
    counts["failed"] += record["status"] == "failed"
    bar.set_postfix(counts)
    bar.update(1)


def _run_local(jobs, out: Path, settings: DetectSettings, *, quiet: bool) -> list[dict]:
    records, found = [], {"artifacts": 0, "failed": 0}
    with _progress(len(jobs), quiet) as bar:
        for name, files in jobs:
            records.append(process_image(name, files, out, settings))
            _tick(bar, records[-1], found)
    return records


def _run_dask(jobs, out: Path, settings: DetectSettings, *, workers: int, scheduler: str | None,
              quiet: bool) -> list[dict]:
    """Send one task per image to a Dask cluster; results come back as they finish."""
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        threads = max(1, (os.cpu_count() or 1) // workers)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, env={"OMP_NUM_THREADS": str(threads)})
    client = Client(scheduler if scheduler is not None else cluster)
    try:
        futures = [client.submit(process_image, name, files, str(out), settings, key=f"spacejunk-{name}",
                                 pure=False) for name, files in jobs]
        records, found = [], {"artifacts": 0, "failed": 0}
        with _progress(len(jobs), quiet) as bar:
            for future in as_completed(futures):
                records.append(future.result())
                _tick(bar, records[-1], found)
        order = {name: k for k, (name, _) in enumerate(jobs)}
        records.sort(key=lambda r: order[r["image"]])
        return records
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _find(paths: Iterable[str | os.PathLike]) -> tuple[dict[str, list[Path]], list[dict]]:
    """Group the files under each path into images; a path that finds nothing is a failed record."""
    from .io import find_images

    images: dict[str, list[Path]] = {}
    missing = []
    for path in paths:
        try:
            found = find_images([path])
        except InputError as err:
            missing.append({"image": str(path), "files": [str(path)], "status": "failed", "artifacts": 0,
                            "seconds": {}, "error": {"path": err.path or str(path), "reason": err.problem}})
            continue
        for name, files in found.items():
            images.setdefault(name, [])
            images[name] += [f for f in files if f not in images[name]]
    return images, missing


def _write_catalogs(out: Path) -> None:
    """Rebuild ``artifacts.csv`` and ``tiles.csv`` from the parts of every finished image.

    Images of earlier runs into the same folder are kept: the catalogs cover every part
    present, in name order, with this run's images included.
    """
    parts = out / _PARTS
    for kind in ("artifacts", "tiles"):
        files = sorted(parts.glob(f"*.{kind}.csv"))
        header: list[str] | None = None
        with atomic_path(out / f"{kind}.csv") as tmp:
            with open(tmp, "w", newline="") as dst:
                writer = csv.writer(dst)
                for f in files:
                    with open(f, newline="") as src:
                        reader = csv.reader(src)
                        head = next(reader, None)
                        if head is None:
                            continue
                        if header is None:
                            header = head
                            writer.writerow(header)
                        writer.writerows(reader)
                if header is None:
                    writer.writerow(_EMPTY_HEADERS[kind])


_EMPTY_HEADERS = {"artifacts": list(ARTIFACT_COLUMNS), "tiles": ["image", "x0", "y0", "x1", "y1", "score"]}


def _summarise(records: list[dict], seconds: float) -> dict:
    stages: dict[str, float] = {}
    for rec in records:
        for stage, s in rec["seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + s
    done = [r for r in records if r["status"] == "done"]
    return {
        "images": len(records),
        "done": len(done),
        "skipped": sum(r["status"] == "skipped" for r in records),
        "failed": sum(r["status"] == "failed" for r in records),
        "artifacts": sum(r["artifacts"] for r in records if r["status"] != "failed"),
        "seconds": round(seconds, 3),
        "seconds_per_image": {k: round(v / len(done), 3) for k, v in stages.items()} if done else {},
        "errors": [r["error"] for r in records if r["status"] == "failed"],
    }
