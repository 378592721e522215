"""The README's settings table is the settings, as `baas settings` knows them."""

from pathlib import Path

from baas.settings import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_lists_every_setting():
    text = README.read_text()
    block = text.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert block == markdown_table(), (
        "regenerate with: python -c 'from baas.settings import markdown_table; print(markdown_table())'"
    )
