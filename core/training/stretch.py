"""Explicit, recorded conversion of any-depth imagery to 8-bit: band choice and stretch."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError

STRETCHES = ("none", "minmax", "percent_2_98")


def parse_bands(text: str, band_count: int) -> List[int]:
    """'3,2,1' -> [3, 2, 1] (1-based); empty text -> all bands.

    Raises:
        InputError: not a comma-separated list of band numbers in 1..band_count.
    """
    text = (text or "").strip()
    if not text:
        return list(range(1, band_count + 1))
    try:
        bands = [int(p) for p in text.replace(" ", "").split(",") if p]
    except ValueError as exc:
        raise InputError(
            f"BANDS '{text}' is not a comma-separated list of band numbers (e.g. 3,2,1)."
        ) from exc
    bad = [b for b in bands if not 1 <= b <= band_count]
    if not bands or bad:
        raise InputError(
            f"BANDS '{text}' names band(s) {bad or bands} but the image has bands 1 to "
            f"{band_count}."
        )
    return bands


def check_output_depth(
    fmt_name: str, data_type: str, n_bands: int, stretch: str, bands_given: bool
) -> None:
    """Refuse silent conversions: PNG/JPEG need 8-bit 1/3(/4) bands, GeoTIFF takes anything.

    Raises:
        InputError: naming what to set (STRETCH, BANDS) or to use GeoTIFF.
    """
    if fmt_name == "GTiff":
        return
    allowed = (1, 3) if fmt_name == "JPEG" else (1, 2, 3, 4)
    if data_type != "Byte" and stretch == "none":
        raise InputError(
            f"The image is {data_type}; {fmt_name} tiles are 8-bit. Set STRETCH (min-max or "
            "2-98 % percent clip) and BANDS (e.g. 3,2,1) to convert explicitly, or write "
            "GeoTIFF tiles, which keep the original data."
        )
    if n_bands not in allowed:
        hint = "BANDS " + ("(e.g. 3,2,1)" if n_bands > 3 else "(e.g. 1)")
        raise InputError(
            f"{fmt_name} tiles take {' or '.join(map(str, allowed))} band(s), but "
            f"{'BANDS selects' if bands_given else 'the image has'} {n_bands}; set {hint}, or "
            "write GeoTIFF tiles."
        )


def stretch_limits(
    sample: np.ndarray, mode: str, nodata: float | None = None
) -> Tuple[float, float]:
    """(low, high) input values mapped to 0 and 255 for one band, from a pixel sample."""
    values = np.asarray(sample, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if nodata is not None:
        values = values[values != nodata]
    if values.size == 0:
        return (0.0, 255.0)
    if mode == "minmax":
        lo, hi = float(values.min()), float(values.max())
    elif mode == "percent_2_98":
        lo, hi = (float(v) for v in np.percentile(values, [2.0, 98.0]))
    else:
        raise ValueError(f"unknown stretch {mode!r}")
    return (lo, hi if hi > lo else lo + 1.0)


def to_byte(array: np.ndarray, limits: Sequence[Tuple[float, float]]) -> np.ndarray:
    """(bands, rows, cols) -> uint8 with a linear stretch per band, clipped to 0-255."""
    out = np.empty(array.shape, dtype=np.uint8)
    for b, (lo, hi) in enumerate(limits):  # a handful of bands
        scaled = (array[b].astype(np.float32) - lo) * (255.0 / (hi - lo))
        out[b] = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out


RGB = ("Red", "Green", "Blue")
ALPHA = "Alpha"


def band_layout(
    fmt_name: str, colors: Sequence[Optional[str]], bands: Sequence[int]
) -> Dict[str, Any]:
    """How tiles of ``fmt_name`` mark the chosen bands (source colour interpretations, in
    order): ``{"photometric": "RGB" | "MINISBLACK", "alpha": bool}``. A band becomes alpha only
    when the source says it is alpha; a 4th band such as NIR stays a plain band.

    Raises:
        InputError: PNG/JPEG would store a band that is not alpha as transparency.
    """
    colors = [c or "Undefined" for c in colors]
    rgb = tuple(colors[:3]) == RGB
    extra = 3 if rgb else 1  # index of the first band beyond the colour bands
    alpha = len(colors) > extra and colors[extra] == ALPHA
    if fmt_name != "GTiff" and len(colors) in (2, 4) and not alpha:
        raise InputError(
            f"{fmt_name} tiles with {len(colors)} bands store band {bands[-1]} "
            f"({colors[-1]}) as transparency (alpha). Write GeoTIFF tiles to keep it as a band, "
            f"or set BANDS to {'3' if len(colors) == 4 else '1'} of them (e.g. "
            f"{'1,2,3' if len(colors) == 4 else '1'})."
        )
    return {"photometric": "RGB" if rgb else "MINISBLACK", "alpha": alpha}
