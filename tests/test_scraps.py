"""The runner reads scraps from the executed notebook's JSON (pipeline/scraps.py), without importing
scrapbook unless a scrap needs it: what it reads must equal what scrapbook itself reads."""

from __future__ import annotations

import nbformat
import papermill
import scrapbook

from pipeline.scraps import notebook_scraps, read_scraps, to_jsonable

GLUES = """
import matplotlib.pyplot as plt
import scrapbook as sb

sb.glue("count", 3)
sb.glue("share", 0.25)
sb.glue("nested", {"a": [1, 2], "b": None})
sb.glue("summary", "**bold** text")
sb.glue("json_text", "[1, 2]", encoder="json")  # scrapbook parses a JSON string glued as json
sb.glue("count", 4)  # glued again: the later value counts
figure, ax = plt.subplots()
ax.plot([1, 2], [3, 4])
sb.glue("chart", figure, display=True)
"""


def executed(tmp_path, source: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "glued.ipynb"
    nbformat.write(nb, path)
    papermill.execute_notebook(str(path), str(path), kernel_name="python3", progress_bar=False)
    return path


def expected(path):
    return {name: to_jsonable(scrap.data) for name, scrap in scrapbook.read_notebook(str(path)).scraps.items()}


def test_plain_and_display_scraps_equal_scrapbooks(tmp_path):
    path = executed(tmp_path, GLUES)
    scraps, figures = read_scraps(path, tmp_path)
    assert (
        scraps
        == expected(path)
        == {
            "count": 4,
            "share": 0.25,
            "nested": {"a": [1, 2], "b": None},
            "summary": "**bold** text",
            "json_text": [1, 2],
            "chart": None,
        }
    )
    assert notebook_scraps(path)["chart"].display["data"]["image/png"]
    assert figures == {"chart": "figures/glued.chart.png"}
    assert (tmp_path / "figures" / "glued.chart.png").read_bytes().startswith(b"\x89PNG")


def test_a_scrap_of_another_encoder_is_read_with_scrapbook(tmp_path):
    path = executed(
        tmp_path,
        'import pandas as pd\nimport scrapbook as sb\nsb.glue("frame", pd.DataFrame({"x": [1, 2]}))\nsb.glue("n", 1)',
    )
    assert read_scraps(path, tmp_path) == (expected(path), {})
    assert expected(path) == {"frame": [{"x": 1}, {"x": 2}], "n": 1}


BOTH_WAYS = """
import matplotlib.pyplot as plt
import scrapbook as sb
from streamkpi import scraps

figure, ax = plt.subplots()
ax.plot([1, 2], [3, 4])
plt.close(figure)
VALUES = {
    "count": 3, "share": 0.25, "flag": True, "text": "**bold** text", "nested": {"a": [1, 2], "b": None},
    "records": [{"check_name": "volume", "status": "pass"}], "empty": [],
}
"""


def test_streamkpi_glue_writes_what_scrapbook_glue_writes(tmp_path):
    """The notebooks glue with streamkpi.scraps (no scrapbook import in the kernel): each value, and
    a figure glued for display, gives the outputs scrapbook.glue gives, in a real kernel."""
    cells = [BOTH_WAYS]
    for glue in ("sb.glue", "scraps.glue"):
        cells += [
            f"for name, value in VALUES.items():\n    {glue}(name, value)",
            f'{glue}("chart", figure, display=True)',
        ]
    cells.append('try:\n    scraps.glue("figure", figure)\nexcept TypeError as error:\n    print(error)')
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "both.ipynb"
    nbformat.write(nb, path)
    papermill.execute_notebook(str(path), str(path), kernel_name="python3", progress_bar=False)
    outputs = [cell.outputs for cell in nbformat.read(path, as_version=4).cells]
    assert outputs[1] == outputs[3] and len(outputs[1]) == 7  # the values
    assert outputs[2] == outputs[4] and outputs[2][0].data["image/png"]  # the figure, display-only
    assert outputs[5][0].text == "scrap 'figure': a Figure is no JSON value; glue it with display=True\n"
    assert read_scraps(path, tmp_path)[0] == {
        "count": 3,
        "share": 0.25,
        "flag": True,
        "text": "**bold** text",
        "nested": {"a": [1, 2], "b": None},
        "records": [{"check_name": "volume", "status": "pass"}],
        "empty": [],
        "chart": None,
    }
