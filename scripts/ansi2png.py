#!/usr/bin/env python3
"""Render a terminal screen captured with `tmux capture-pane -e -p` (text with ANSI colour
escapes) into a PNG, cell by cell, in DejaVu Sans Mono. Used by scripts/screenshot.

    ansi2png.py SCREEN.txt OUT.png [--cols 160]
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
SIZE = 15
# xterm's 16 colours, a little softened for a dark background
BASE = [
    (0x1d, 0x1f, 0x21), (0xcc, 0x44, 0x44), (0x5f, 0xb3, 0x5f), (0xd7, 0xaf, 0x3f),
    (0x51, 0x8f, 0xd6), (0xc6, 0x6d, 0xc6), (0x4f, 0xb8, 0xc2), (0xc5, 0xc8, 0xc6),
    (0x6c, 0x70, 0x73), (0xff, 0x6b, 0x6b), (0x8f, 0xe3, 0x8f), (0xff, 0xe0, 0x6b),
    (0x7d, 0xb7, 0xff), (0xf0, 0x9a, 0xf0), (0x7f, 0xe8, 0xf2), (0xff, 0xff, 0xff),
]
FG, BG = (0xd0, 0xd3, 0xd0), (0x16, 0x18, 0x1a)
# Braille dot n (bit n of the code point's low byte) at (column, row) of the 2x4 grid
BRAILLE = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2), (0, 3), (1, 3)]


def xterm256(n):
    if n < 16:
        return BASE[n]
    if n < 232:
        n -= 16
        steps = [0, 95, 135, 175, 215, 255]
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    v = 8 + 10 * (n - 232)
    return (v, v, v)


def cells(text, cols):
    """Yields rows of (char, fg, bg, bold, dim)."""
    rows = []
    for line in text.split("\n"):
        fg, bg, bold, dim, rev = None, None, False, False, False
        row = []
        for m in re.finditer(r"\x1b\[([0-9;]*)m|([^\x1b])", line):
            if m.group(2) is not None:
                f, b = (bg, fg) if rev else (fg, bg)
                row.append((m.group(2), f, b, bold, dim))
                continue
            codes = [int(c) if c else 0 for c in m.group(1).split(";")]
            i = 0
            while i < len(codes):
                c = codes[i]
                if c == 0:
                    fg, bg, bold, dim, rev = None, None, False, False, False
                elif c == 1:
                    bold = True
                elif c == 2:
                    dim = True
                elif c == 22:
                    bold = dim = False
                elif c == 7:
                    rev = True
                elif c == 27:
                    rev = False
                elif 30 <= c <= 37:
                    fg = BASE[c - 30]
                elif 90 <= c <= 97:
                    fg = BASE[c - 90 + 8]
                elif 40 <= c <= 47:
                    bg = BASE[c - 40]
                elif 100 <= c <= 107:
                    bg = BASE[c - 100 + 8]
                elif c == 39:
                    fg = None
                elif c == 49:
                    bg = None
                elif c in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 5 and i + 2 < len(codes):
                        col = xterm256(codes[i + 2])
                        i += 2
                    elif codes[i + 1] == 2 and i + 4 < len(codes):
                        col = tuple(codes[i + 2:i + 5])
                        i += 4
                    else:
                        col = None
                    if c == 38:
                        fg = col
                    else:
                        bg = col
                i += 1
        rows.append(row[:cols])
    while rows and not rows[-1]:
        rows.pop()
    return rows


def main():
    src, out = sys.argv[1], sys.argv[2]
    cols = int(sys.argv[sys.argv.index("--cols") + 1]) if "--cols" in sys.argv else 160
    text = open(src, encoding="utf-8").read()
    rows = cells(text, cols)
    regular = ImageFont.truetype(f"{FONT_DIR}/DejaVuSansMono.ttf", SIZE)
    bold = ImageFont.truetype(f"{FONT_DIR}/DejaVuSansMono-Bold.ttf", SIZE)
    cw = round(regular.getlength("M"))
    ch = SIZE + 4
    pad = 12
    img = Image.new("RGB", (cols * cw + 2 * pad, len(rows) * ch + 2 * pad), BG)
    d = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (c, fg, bg, b, dim) in enumerate(row):
            px, py = pad + x * cw, pad + y * ch
            if bg is not None:
                d.rectangle([px, py, px + cw - 1, py + ch - 1], fill=bg)
            if c == " ":
                continue
            col = fg or FG
            if dim:
                col = tuple(int(v * 0.6 + BG[i] * 0.4) for i, v in enumerate(col))
            o = ord(c)
            if 0x2800 <= o <= 0x28FF:
                # Braille (the charts): the font has no such glyphs, so the dots are drawn
                bits = o - 0x2800
                for bit, (dx, dy) in enumerate(BRAILLE):
                    if bits & (1 << bit):
                        x0 = px + 1 + dx * (cw - 2) // 2
                        y0 = py + 1 + dy * (ch - 2) // 4
                        d.rectangle([x0, y0, x0 + max(1, cw // 3), y0 + max(1, ch // 7)], fill=col)
                continue
            d.text((px, py + 1), c, font=bold if b else regular, fill=col)
    img.save(out, optimize=True)


if __name__ == "__main__":
    main()
