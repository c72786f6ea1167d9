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
