"""The live picture's text against its backgrounds (streams/web/static/picture.css): the WCAG 2.1 contrast
ratio of each pair the page draws its text with, from the stylesheet's own colours.

Relative luminance and the ratio are WCAG 2.1's definitions (www.w3.org/TR/WCAG21/#dfn-relative-luminance,
#dfn-contrast-ratio); text needs 4.5:1 (1.4.3, AA), the focus ring 3:1 against the page (1.4.11)."""

from __future__ import annotations

import re
from importlib import resources

import pytest

CSS = (resources.files("streams.web") / "static" / "picture.css").read_text()
TEXT, NON_TEXT = 4.5, 3.0


def variables(css: str) -> dict[str, str]:
    """The custom properties of :root, by name without the dashes."""
    root = re.search(r":root\s*\{([^}]*)\}", css)
    assert root is not None, "picture.css has no :root block"
    return dict(re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", root.group(1)))


def declared(css: str, selector: str, prop: str) -> str:
    """The value of `prop` in the first rule for exactly `selector`."""
    rule = re.search(r"(?:^|\})\s*" + re.escape(selector) + r"\s*\{([^}]*)\}", css, re.MULTILINE)
    assert rule is not None, f"no rule for {selector}"
    value = re.search(r"(?:^|;)\s*" + re.escape(prop) + r"\s*:\s*([^;]+)", rule.group(1))
    assert value is not None, f"{selector} sets no {prop}"
    return value.group(1).strip()


def rgb(colour: str, names: dict[str, str]) -> tuple[float, float, float]:
    found = re.fullmatch(r"var\(--([\w-]+)\)", colour)
    hex_ = names[found.group(1)] if found else {"#fff": "#ffffff", "#000": "#000000"}.get(colour, colour)
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", hex_), f"not a colour this test reads: {colour}"
    r, g, b = (int(hex_[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return r, g, b


def luminance(colour: tuple[float, float, float]) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in colour)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(one: tuple[float, float, float], other: tuple[float, float, float]) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


NAMES = variables(CSS)
PAIRS = {  # what is written, on what, and the least ratio it needs
    "body text on the page": ("var(--ink)", "var(--paper)", TEXT),
    "body text on panels": ("var(--ink)", "var(--panel)", TEXT),
    "muted text on the page": ("var(--muted)", "var(--paper)", TEXT),
    "muted text on panels": ("var(--muted)", "var(--panel)", TEXT),
    "links": ("var(--accent)", "var(--paper)", TEXT),
    "buttons": (declared(CSS, "button", "color"), declared(CSS, "button", "background"), TEXT),
    "the top bar": (declared(CSS, ".top", "color"), declared(CSS, ".top", "background"), TEXT),
    "the top bar's subtitle": (declared(CSS, "h1 .sub", "color"), declared(CSS, ".top", "background"), TEXT),
    "the sign-in error": (
        declared(CSS, ".signin .error", "color"),
        declared(CSS, ".signin .error", "background"),
        TEXT,
    ),
    "the focus ring on the page": ("var(--focus)", "var(--paper)", NON_TEXT),
    "the focus ring on panels": ("var(--focus)", "var(--panel)", NON_TEXT),
}


def test_the_ratio_is_wcags() -> None:  # WCAG's own bounds: black on white 21:1, a colour on itself 1:1
    assert ratio((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert ratio((0.5, 0.2, 0.1), (0.5, 0.2, 0.1)) == pytest.approx(1.0)
    assert ratio(rgb("#767676", {}), rgb("#ffffff", {})) == pytest.approx(4.54, abs=0.01)  # the usual AA grey


@pytest.mark.parametrize("what", sorted(PAIRS))
def test_the_pages_text_has_enough_contrast(what: str) -> None:
    ink, ground, least = PAIRS[what]
    found = ratio(rgb(ink, NAMES), rgb(ground, NAMES))
    assert found >= least, f"{what}: {ink} on {ground} is {found:.2f}:1, under {least}:1"
