"""Fixtures shared by the finders' tests."""

import pytest


@pytest.fixture
def detect_with_finders():
    """``detect(image, keys)``: :func:`spacejunk.predict.detector.detect_exposure` on a
    three-band ``image`` with a network that finds nothing and the default settings of the
    finders ``keys`` (no trails), at threshold 0.3: what the finders report through the detector."""
    import torch

    from spacejunk.categories import CATEGORIES
    from spacejunk.models.detector import SegmentationDetector
    from spacejunk.predict.detector import detect_exposure
    from spacejunk.predict.finders import default_finder_settings

    class Blind(SegmentationDetector):
        def logits(self, x):
            return torch.full((x.shape[0], self.num_classes - 1, *x.shape[-2:]), -30.0)

    def detect(image, keys):
        meta = {"bands": list(image.bands), "classes": list(CATEGORIES), "threshold": 0.3,
                "views": [{"bin": 8, "tile": None, "overlap": 0}], **default_finder_settings(keys)}
        model = Blind(n_bands=len(image.bands), base_channels=2, depth=1).eval()
        return detect_exposure(image, model=model, meta=meta, trails=False)

    return detect
