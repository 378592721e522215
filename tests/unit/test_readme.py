"""The operations guide's settings table is the settings, as `baas settings` knows them."""

from pathlib import Path

from baas.settings import markdown_table

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"


def test_the_operations_guide_lists_every_setting():
    text = OPERATIONS.read_text()
    block = text.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert block == markdown_table(), (
        "regenerate with: python -c 'from baas.settings import markdown_table; print(markdown_table())'"
        " and paste it between the markers in docs/operations.md"
    )
