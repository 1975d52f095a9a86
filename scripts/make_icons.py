"""Draw the app's icons (a chat bubble on the accent colour) into web/icons/, deterministically.

    python scripts/make_icons.py

Writes icon.svg (favicon, any size), icon-192.png and icon-512.png (rounded square) and
icon-maskable-512.png (full bleed, drawing inside the maskable safe zone) for
web/manifest.webmanifest. The PNGs are rasterised from the same shapes with signed distance
functions (anti-aliased edges); numpy is the only dependency.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
ICONS = REPO / "web" / "icons"
ACCENT = (0x2F, 0x6F, 0xEB)  # app.css --accent
WHITE = (0xFF, 0xFF, 0xFF)

# The shapes, in units of the icon's side (0..1).
CORNER = 0.22  # background corner radius (not for maskable icons)
BUBBLE = (0.18, 0.22, 0.82, 0.66, 0.12)  # x0, y0, x1, y1, corner radius
TAIL = ((0.30, 0.60), (0.48, 0.60), (0.26, 0.82))
DOTS = ((0.36, 0.44), (0.50, 0.44), (0.64, 0.44))
DOT_RADIUS = 0.05
MASKABLE_SCALE = 0.8  # keeps the bubble inside the safe zone (a circle of 40% radius)


def rounded_box(x, y, x0, y0, x1, y1, r):
    """Signed distance to a rounded rectangle (negative inside)."""
    cx, cy, hx, hy = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2 - r, (y1 - y0) / 2 - r
    qx, qy = np.abs(x - cx) - hx, np.abs(y - cy) - hy
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def triangle(x, y, points):
    """Signed distance to a triangle (negative inside)."""
    dist = np.full(x.shape, np.inf)
    sign = np.ones(x.shape)
    for i in range(3):
        (ax, ay), (bx, by) = points[i], points[(i + 1) % 3]
        ex, ey, wx, wy = bx - ax, by - ay, x - ax, y - ay
        t = np.clip((wx * ex + wy * ey) / (ex * ex + ey * ey), 0, 1)
        dist = np.minimum(dist, np.hypot(wx - ex * t, wy - ey * t))
        # crossing test: flip the sign each time a horizontal ray crosses the edge
        crosses = ((ay > y) != (by > y)) & (x < ax + (y - ay) * ex / np.where(ey == 0, 1, ey))
        sign = np.where(crosses, -sign, sign)
    return sign * dist


def raster(size: int, maskable: bool) -> np.ndarray:
    """RGBA pixels (size x size x 4, uint8)."""
    coords = (np.arange(size) + 0.5) / size
    x, y = np.meshgrid(coords, coords)
    if maskable:
        background = np.ones_like(x)
        x, y = (x - 0.5) / MASKABLE_SCALE + 0.5, (y - 0.5) / MASKABLE_SCALE + 0.5
        scale = size * MASKABLE_SCALE
    else:
        background = np.clip(0.5 - rounded_box(x, y, 0, 0, 1, 1, CORNER) * size, 0, 1)
        scale = size

    def coverage(distance):
        return np.clip(0.5 - distance * scale, 0, 1)

    bubble = np.minimum(rounded_box(x, y, *BUBBLE), triangle(x, y, TAIL))
    dots = np.min([np.hypot(x - dx, y - dy) - DOT_RADIUS for dx, dy in DOTS], axis=0)
    white = coverage(bubble) * (1 - coverage(dots))
    rgb = [a + (w - a) * white for a, w in zip(ACCENT, WHITE, strict=True)]
    pixels = np.stack([*rgb, background * 255], axis=-1)
    return np.round(pixels).astype(np.uint8)


def png(pixels: np.ndarray) -> bytes:
    """A PNG file of RGBA pixels (no filtering, zlib level 9)."""
    height, width, _ = pixels.shape
    rows = b"".join(b"\0" + pixels[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


def svg() -> str:
    """The same drawing as a scalable SVG (100 x 100 units)."""

    def n(v: float) -> str:
        return f"{v * 100:g}"

    x0, y0, x1, y1, r = BUBBLE
    accent = "#{:02x}{:02x}{:02x}".format(*ACCENT)
    tail = " ".join(f"{n(px)},{n(py)}" for px, py in TAIL)
    dots = "".join(
        f'<circle cx="{n(dx)}" cy="{n(dy)}" r="{n(DOT_RADIUS)}" fill="{accent}"/>'
        for dx, dy in DOTS
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100">'
        f'<rect width="100" height="100" rx="{n(CORNER)}" fill="{accent}"/>'
        f'<rect x="{n(x0)}" y="{n(y0)}" width="{n(x1 - x0)}" height="{n(y1 - y0)}" rx="{n(r)}"'
        ' fill="#fff"/>'
        f'<polygon points="{tail}" fill="#fff"/>{dots}</svg>\n'
    )


def icons() -> dict[str, np.ndarray]:
    """Every PNG icon by file name."""
    return {
        "icon-192.png": raster(192, maskable=False),
        "icon-512.png": raster(512, maskable=False),
        "icon-maskable-512.png": raster(512, maskable=True),
    }


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, pixels in icons().items():
        (ICONS / name).write_bytes(png(pixels))
    (ICONS / "icon.svg").write_text(svg())
    print(f"wrote {len(icons()) + 1} icons to {ICONS.relative_to(REPO)}/")


if __name__ == "__main__":
    main()
