"""Draw the demo shop's product pictures as small SVG files (run once; the output is committed).

    python demo_site/make_images.py

No downloads and no fonts of our own: shapes, gradients and a short label word per product.
Each file stays well under 4 KB.
"""

from __future__ import annotations

from pathlib import Path

OUT = Path(__file__).resolve().parent / "static" / "img"

HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 240 240" role="img">'
        '<rect width="240" height="240" fill="#fdf6e7"/>'
        '<circle cx="120" cy="126" r="94" fill="{bg}"/>'
        '<ellipse cx="120" cy="210" rx="70" ry="8" fill="#5b3a12" opacity=".12"/>')
FONT = 'font-family="Georgia,\'DejaVu Serif\',serif"'


def hexagon(cx: float, cy: float, r: float, fill: str, extra: str = "") -> str:
    pts = []
    for i in range(6):
        import math
        a = math.radians(60 * i + 30)
        pts.append(f"{cx + r * math.cos(a):.1f},{cy + r * math.sin(a):.1f}")
    return f'<polygon points="{" ".join(pts)}" fill="{fill}" {extra}/>'


def fit(word: str, width: float, largest: int) -> int:
    """A font size at which an upper-case word in a bold serif fits the width."""
    return min(largest, int(width / (0.78 * len(word))))


def label(word: str, sub: str, y: int = 116, ink: str = "#5b3a12") -> str:
    size = fit(word, 84, 22)
    return (f'<rect x="72" y="{y}" width="96" height="58" rx="8" fill="#fffaf0" stroke="{ink}" stroke-width="2"/>'
            + hexagon(120, y + 12, 6, "#e7a21a")
            + f'<text x="120" y="{y + 38}" text-anchor="middle" {FONT} font-size="{size}" font-weight="bold" fill="{ink}">{word}</text>'
            + f'<text x="120" y="{y + 51}" text-anchor="middle" {FONT} font-size="10" fill="{ink}">{sub}</text>')


def jar(word: str, sub: str, light: str, dark: str, lid: str = "#c8962e", bg: str = "#f7e6c1",
        creamy: bool = False) -> str:
    body = "url(#h)"
    swirl = ('<path d="M70 96q25 10 50 0t50 0" stroke="#fff" stroke-width="4" fill="none" opacity=".35"/>'
             if creamy else "")
    return (HEAD.format(bg=bg)
            + f'<defs><linearGradient id="h" x1="0" x2="1"><stop offset="0" stop-color="{light}"/>'
            f'<stop offset="1" stop-color="{dark}"/></linearGradient></defs>'
            + '<rect x="80" y="62" width="80" height="14" fill="#e9e3d6"/>'
            + f'<path d="M70 74h100q16 0 16 18v94q0 20-20 20H74q-20 0-20-20V92q0-18 16-18z" fill="{body}"/>'
            + swirl
            + '<rect x="62" y="92" width="8" height="90" rx="4" fill="#fff" opacity=".3"/>'
            + f'<rect x="72" y="38" width="96" height="28" rx="6" fill="{lid}"/>'
            + '<path d="M80 44v16M92 44v16M104 44v16M116 44v16M128 44v16M140 44v16M152 44v16M160 44v16" '
              'stroke="#000" stroke-opacity=".12" stroke-width="3"/>'
            + label(word, sub)
            + '</svg>')


def comb(word: str, sub: str, cell: str, capped: str, frame: str = "#9a6a34") -> str:
    # One pattern tile of four cells (two capped, two open) keeps the file small.
    r = 10
    tile = (hexagon(9.5, 0, r, capped) + hexagon(28.5, 0, r, cell) + hexagon(0, 16.5, r, cell)
            + hexagon(19, 16.5, r, capped) + hexagon(38, 16.5, r, cell) + hexagon(9.5, 33, r, capped)
            + hexagon(28.5, 33, r, cell))
    return (HEAD.format(bg="#f7e6c1")
            + f'<defs><pattern id="p" width="38" height="33" patternUnits="userSpaceOnUse">{tile}</pattern></defs>'
            + f'<rect x="44" y="50" width="152" height="128" rx="6" fill="{frame}"/>'
            + '<rect x="52" y="58" width="136" height="112" fill="#8a4d0c"/>'
            + '<rect x="52" y="58" width="136" height="112" fill="url(#p)"/>'
            + '<rect x="74" y="160" width="92" height="40" rx="6" fill="#fffaf0" stroke="#5b3a12" stroke-width="2"/>'
            + f'<text x="120" y="181" text-anchor="middle" {FONT} font-size="{fit(word, 80, 16)}" font-weight="bold" fill="#5b3a12">{word}</text>'
            + f'<text x="120" y="194" text-anchor="middle" {FONT} font-size="9" fill="#5b3a12">{sub}</text>'
            + '</svg>')


def dropper(word: str, sub: str) -> str:
    return (HEAD.format(bg="#efe2c4")
            + '<defs><linearGradient id="h" x1="0" x2="1"><stop offset="0" stop-color="#a4561a"/>'
              '<stop offset="1" stop-color="#5a2a0c"/></linearGradient></defs>'
            + '<rect x="106" y="24" width="28" height="34" rx="12" fill="#2b211c"/>'
            + '<rect x="98" y="56" width="44" height="22" rx="4" fill="#3b2f28"/>'
            + '<path d="M96 78h48q22 8 22 30v82q0 16-16 16H90q-16 0-16-16v-82q0-22 22-30z" fill="url(#h)"/>'
            + '<rect x="82" y="104" width="7" height="80" rx="3" fill="#fff" opacity=".25"/>'
            + '<rect x="80" y="118" width="80" height="56" rx="6" fill="#fffaf0" stroke="#5b3a12" stroke-width="2"/>'
            + hexagon(120, 130, 6, "#e7a21a")
            + f'<text x="120" y="156" text-anchor="middle" {FONT} font-size="{fit(word, 70, 15)}" font-weight="bold" fill="#5b3a12">{word}</text>'
            + f'<text x="120" y="168" text-anchor="middle" {FONT} font-size="9" fill="#5b3a12">{sub}</text>'
            + '</svg>')


def pollen(word: str, sub: str) -> str:
    # Granules as a pattern of dots in pollen colours.
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="4.4" fill="{c}"/>' for x, y, c in (
        (4, 4, "#f2a900"), (13, 4, "#e0761c"), (22, 4, "#c9a227"), (8.5, 12, "#f5c842"),
        (17.5, 12, "#b5651d"), (26.5, 12, "#d98e04"), (-0.5, 12, "#d98e04")))
    return (HEAD.format(bg="#f3e7c9")
            + f'<defs><pattern id="p" width="27" height="16" patternUnits="userSpaceOnUse">{dots}</pattern>'
            + '<clipPath id="c"><path d="M70 74h100q16 0 16 18v94q0 20-20 20H74q-20 0-20-20V92q0-18 16-18z"/></clipPath></defs>'
            + '<rect x="80" y="62" width="80" height="14" fill="#e9e3d6"/>'
            + '<g clip-path="url(#c)"><rect x="50" y="70" width="140" height="140" fill="#e8b23a"/>'
            + '<rect x="50" y="70" width="140" height="140" fill="url(#p)"/></g>'
            + '<rect x="62" y="92" width="8" height="90" rx="4" fill="#fff" opacity=".3"/>'
            + '<rect x="72" y="38" width="96" height="28" rx="6" fill="#6b8e23"/>'
            + label(word, sub)
            + '</svg>')


def box(word: str, sub: str, ribbon: str, jars: bool) -> str:
    tops = ""
    if jars:
        for x, c in ((64, "#e39b1b"), (104, "#8a3b12"), (144, "#f2c14e")):
            tops += (f'<rect x="{x}" y="58" width="32" height="40" rx="6" fill="{c}"/>'
                     f'<rect x="{x - 2}" y="50" width="36" height="12" rx="3" fill="#c8962e"/>')
    else:
        tops = (f'<path d="M120 74q-34-34-44-10t44 10q34-34 44-10t-44 10z" fill="{ribbon}"/>')
    return (HEAD.format(bg="#f4e3c3")
            + tops
            + '<rect x="50" y="88" width="140" height="112" rx="4" fill="#c49a6c"/>'
            + '<rect x="44" y="80" width="152" height="24" rx="4" fill="#b0875a"/>'
            + f'<rect x="112" y="80" width="16" height="120" fill="{ribbon}"/>'
            + '<rect x="70" y="128" width="100" height="48" rx="6" fill="#fffaf0" stroke="#5b3a12" stroke-width="2"/>'
            + f'<text x="120" y="152" text-anchor="middle" {FONT} font-size="{fit(word, 88, 15)}" font-weight="bold" fill="#5b3a12">{word}</text>'
            + f'<text x="120" y="166" text-anchor="middle" {FONT} font-size="9" fill="#5b3a12">{sub}</text>'
            + '</svg>')


IMAGES = {
    "cam-bali.svg": jar("ÇAM", "850 g", "#b5541c", "#6e2a0a"),
    "kestane-bali.svg": jar("KESTANE", "450 g", "#6a3210", "#2f1405", lid="#7a4a1e"),
    "cicek-bali.svg": jar("ÇİÇEK", "süzme · 1 kg", "#f2b233", "#c97a0a"),
    "aycicek-bali.svg": jar("AYÇİÇEK", "850 g", "#ffd447", "#e7a800", bg="#fbeec4"),
    "lavanta-bali.svg": jar("LAVANTA", "460 g", "#f6d37a", "#d9a33a", lid="#8e7cc3", bg="#efe6f3"),
    "geven-bali.svg": jar("GEVEN", "460 g", "#f8e2a6", "#e2b75a", lid="#a7a06a"),
    "manuka-bali.svg": jar("MANUKA", "MGO 250+", "#c98a3a", "#8a4d12", lid="#2b2b2b", creamy=True),
    "anzer-bali.svg": jar("ANZER", "250 g", "#d8801a", "#94470a", lid="#8b1e1e"),
    "propolisli-bal.svg": jar("PROPOLİS", "ballı · 230 g", "#b96a25", "#6d3610", lid="#3f5e2a"),
    "ari-sutu.svg": jar("ARI SÜTÜ", "20 g", "#fbf5e4", "#e9dcb8", lid="#3a6ea5", bg="#e8eef5", creamy=True),
    "petek-bal.svg": comb("PETEK", "500 g", "#e8a317", "#f6cf62"),
    "karakovan-bali.svg": comb("KARAKOVAN", "1 kg", "#a8560e", "#d99a36", frame="#5e3b1c"),
    "propolis-damla.svg": dropper("PROPOLİS", "damla · 20 ml"),
    "ari-poleni.svg": pollen("POLEN", "200 g"),
    "tadim-kutusu.svg": box("TADIM", "3 × 250 g", "#b4312b", jars=True),
    "kahvalti-kutusu.svg": box("KAHVALTI", "hediye kutusu", "#2f6f4f", jars=False),
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, svg in IMAGES.items():
        data = svg.encode()
        assert len(data) < 4096, (name, len(data))
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
