"""What a notebook hands the runner: scraps, written as scrapbook writes them.

``glue(name, value)`` writes the output ``scrapbook.glue(name, value)`` writes (its ``text``
encoder for a string, ``json`` for numbers, booleans, lists and dicts), and ``glue(name, figure,
display=True)`` its display-only scrap. So the runner, ``scrapbook.read_notebook`` and papermill's
readers see the same scraps. It does not import scrapbook: scrapbook imports papermill, boto3 and
jsonschema, 0.33 s of CPU and 27 MB in each of a run's five kernels.
"""

from __future__ import annotations

from typing import Any

# scrapbook's media type of a data scrap (schemas.GLUE_PAYLOAD_FMT) and its payload version
SCRAP_MIME = "application/scrapbook.scrap.{encoder}+json"
SCRAP_VERSION = 1


def glue(name: str, value: Any, display: bool = False) -> None:
    """Record ``value`` as scrap ``name`` of the running notebook; with ``display``, show it too,
    as a display-only scrap if it is no JSON value (a figure)."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    encoder = "text" if isinstance(value, str) else "json" if isinstance(value, (list, dict, int, float)) else None
    if encoder is None and not display:
        raise TypeError(f"scrap {name!r}: a {type(value).__name__} is no JSON value; glue it with display=True")
    if encoder is not None:
        payload = {"name": name, "data": value, "encoder": encoder, "version": SCRAP_VERSION}
        show({SCRAP_MIME.format(encoder=encoder): payload}, metadata=_scrapbook(name, data=True), raw=True)
    if display:
        shown, metadata = format_display_data(value)
        show(shown, metadata={**metadata, **_scrapbook(name, data=False, display=True)}, raw=True)


def _scrapbook(name: str, *, data: bool, display: bool = False) -> dict:
    return {"scrapbook": {"name": name, "data": data, "display": display}}
